#include "asanafs/vfs/vfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "asanafs/model/names.h"
#include "asanafs/util/log.h"

namespace asanafs::vfs {
namespace {

constexpr mode_t kDirMode = S_IFDIR | 0555;
constexpr mode_t kFileMode = S_IFREG | 0444;

struct timespec ToTimespec(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}

void SetTimes(struct stat* st, std::chrono::system_clock::time_point t) {
  st->st_mtim = st->st_ctim = st->st_atim = ToTimespec(t);
}

Error SysError(const char* what) {
  Error e = MakeError(ErrorCode::kIo, std::string(what) + ": " + std::strerror(errno));
  e.sys_errno = errno;
  return e;
}

// Writes all of `data` at the current file offset of `fd`.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

// One child as a listing reports it, before names are assigned.
struct Vfs::ChildSpec {
  NodeKind kind;
  std::string gid;
  std::string raw_name;
  std::optional<asana::TimePoint> created_at;
  std::optional<asana::TimePoint> modified_at;
  uint64_t size = 0;
  std::string link_text;
};

struct Vfs::OpenFile {
  UniqueFd fd;         // cached content; invalid for inline files
  std::string inline_data;  // .url stubs and empty files
  bool is_inline = false;
};

struct Vfs::DirSnapshot {
  struct Item {
    std::string name;
    struct stat st;
  };
  std::vector<Item> items;  // ".", ".." then the children in name order
};

Vfs::Vfs(asana::AsanaApi& api, model::ContentCache& cache, Clock& clock, VfsOptions options)
    : api_(api),
      cache_(cache),
      clock_(clock),
      options_(options),
      mount_time_(clock.SystemNow()) {
  Node* root = nodes_.Get(NodeTable::kRootIno);
  root->st.st_ino = NodeTable::kRootIno;
  root->st.st_mode = kDirMode;
  root->st.st_nlink = 2;
  root->st.st_uid = options_.uid;
  root->st.st_gid = options_.gid;
  SetTimes(&root->st, mount_time_);
}

Vfs::~Vfs() = default;

Entry Vfs::MakeEntry(const Node& node) const {
  Entry e;
  e.ino = node.ino;
  e.attr = node.st;
  e.entry_timeout = options_.entry_timeout;
  e.attr_timeout = options_.attr_timeout;
  return e;
}

Result<std::vector<Vfs::ChildSpec>> Vfs::FetchListing(NodeKind kind, const std::string& gid) {
  std::vector<ChildSpec> out;
  auto add_dir = [&out](NodeKind k, const std::string& g, const std::string& name,
                        std::optional<asana::TimePoint> created,
                        std::optional<asana::TimePoint> modified) {
    ChildSpec c{k, g, name, created, modified, 0, {}};
    out.push_back(std::move(c));
  };
  switch (kind) {
    case NodeKind::kRoot: {
      ASSIGN_OR_RETURN(auto workspaces, api_.ListWorkspaces());
      for (const auto& w : workspaces) {
        add_dir(NodeKind::kWorkspace, w.gid, w.name, std::nullopt, std::nullopt);
      }
      break;
    }
    case NodeKind::kWorkspace: {
      ASSIGN_OR_RETURN(auto projects, api_.ListProjects(gid));
      for (const auto& p : projects) {
        add_dir(NodeKind::kProject, p.gid, p.name, p.created_at, std::nullopt);
      }
      break;
    }
    case NodeKind::kProject: {
      ASSIGN_OR_RETURN(auto tasks, api_.ListTasks(gid));
      for (const auto& t : tasks) {
        add_dir(NodeKind::kTask, t.gid, t.name, t.created_at, t.modified_at);
      }
      break;
    }
    case NodeKind::kTask: {
      ASSIGN_OR_RETURN(auto attachments, api_.ListAttachments(gid));
      ASSIGN_OR_RETURN(auto subtasks, api_.ListSubtasks(gid));
      for (const auto& a : attachments) {
        ChildSpec c{NodeKind::kAttachment, a.gid, a.name, a.created_at, std::nullopt, 0, {}};
        if (a.IsAsanaHosted()) {
          c.size = a.size.value_or(0);
        } else {
          c.kind = NodeKind::kLink;
          c.link_text = model::InternetShortcut(a.view_url);
          c.size = c.link_text.size();
        }
        out.push_back(std::move(c));
      }
      for (const auto& t : subtasks) {
        add_dir(NodeKind::kTask, t.gid, t.name, t.created_at, t.modified_at);
      }
      break;
    }
    case NodeKind::kAttachment:
    case NodeKind::kLink:
      return MakeError(ErrorCode::kNotDirectory, "not a directory");
  }
  return out;
}

void Vfs::ApplyListing(uint64_t dir, const std::vector<ChildSpec>& children) {
  std::vector<model::NameInput> inputs;
  inputs.reserve(children.size());
  for (const auto& c : children) {
    model::NameInput in;
    in.gid = c.gid;
    in.name = c.raw_name;
    in.created_at = c.created_at;
    in.is_dir = IsDirectory(c.kind);
    in.is_link = c.kind == NodeKind::kLink;
    inputs.push_back(std::move(in));
  }
  std::vector<std::string> names = model::AssignNames(inputs);

  Node* parent = nodes_.Get(dir);
  parent->children.clear();
  for (size_t i = 0; i < children.size(); ++i) {
    const ChildSpec& c = children[i];
    Node* node = nodes_.Intern(dir, c.gid, c.kind);
    node->kind = c.kind;
    node->name = names[i];
    node->link_text = c.link_text;
    struct stat& st = node->st;
    st = {};
    st.st_ino = node->ino;
    st.st_uid = options_.uid;
    st.st_gid = options_.gid;
    if (IsDirectory(c.kind)) {
      st.st_mode = kDirMode;
      st.st_nlink = 2;
      SetTimes(&st, c.kind == NodeKind::kTask && c.modified_at ? *c.modified_at : mount_time_);
    } else {
      st.st_mode = kFileMode;
      st.st_nlink = 1;
      st.st_size = static_cast<off_t>(c.size);
      st.st_blksize = 4096;
      st.st_blocks = static_cast<blkcnt_t>((c.size + 511) / 512);
      SetTimes(&st, c.created_at.value_or(mount_time_));
    }
    parent->children[names[i]] = node->ino;
  }
  parent->listed = true;
  parent->listed_at = clock_.SteadyNow();
}

Status Vfs::EnsureListed(uint64_t dir) {
  std::unique_lock<std::mutex> lock(mu_);
  Node* node = nodes_.Get(dir);
  if (node == nullptr) {
    return MakeError(ErrorCode::kNotFound, "unknown inode");
  }
  if (!IsDirectory(node->kind)) {
    return MakeError(ErrorCode::kNotDirectory, "not a directory");
  }
  if (node->listed && clock_.SteadyNow() - node->listed_at < options_.dir_ttl) {
    return OkStatus();
  }
  if (auto it = listing_in_flight_.find(dir); it != listing_in_flight_.end()) {
    std::shared_future<Status> pending = it->second;
    lock.unlock();
    return pending.get();
  }
  std::promise<Status> promise;
  listing_in_flight_[dir] = promise.get_future().share();
  NodeKind kind = node->kind;
  std::string gid = node->gid;
  lock.unlock();

  auto listing = FetchListing(kind, gid);

  lock.lock();
  listing_in_flight_.erase(dir);
  Status status;
  node = nodes_.Get(dir);
  if (listing.has_value()) {
    ApplyListing(dir, *listing);
  } else if (node->listed) {
    // A stale listing beats an error: keep serving it, retry at the next access.
    LOG(WARN) << "listing of " << Redacted{node->name} << " failed, serving the previous one: "
              << listing.error().message;
  } else {
    status = Unexpected(listing.error());
  }
  lock.unlock();
  promise.set_value(status);
  return status;
}

Result<Entry> Vfs::Lookup(uint64_t parent, std::string_view name) {
  RETURN_IF_ERROR(EnsureListed(parent));
  std::lock_guard<std::mutex> lock(mu_);
  Node* dir = nodes_.Get(parent);
  auto it = dir->children.find(std::string(name));
  if (it == dir->children.end()) {
    return MakeError(ErrorCode::kNotFound, "no such name");
  }
  Node* child = nodes_.Get(it->second);
  child->nlookup++;
  return MakeEntry(*child);
}

void Vfs::Forget(uint64_t ino, uint64_t nlookup) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Node* node = nodes_.Get(ino)) {
    node->nlookup -= std::min(node->nlookup, nlookup);
  }
}

Result<struct stat> Vfs::GetAttr(uint64_t ino) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* node = nodes_.Get(ino);
  if (node == nullptr) {
    return MakeError(ErrorCode::kNotFound, "unknown inode");
  }
  return node->st;
}

Result<uint64_t> Vfs::OpenDir(uint64_t ino) {
  RETURN_IF_ERROR(EnsureListed(ino));
  auto snapshot = std::make_shared<DirSnapshot>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* dir = nodes_.Get(ino);
    Node* parent = nodes_.Get(dir->parent);
    snapshot->items.push_back({".", dir->st});
    snapshot->items.push_back({"..", parent != nullptr ? parent->st : dir->st});
    for (const auto& [name, child_ino] : dir->children) {
      snapshot->items.push_back({name, nodes_.Get(child_ino)->st});
    }
  }
  std::lock_guard<std::mutex> lock(handles_mu_);
  uint64_t fh = next_fh_++;
  dirs_[fh] = std::move(snapshot);
  return fh;
}

Status Vfs::ReadDir(uint64_t fh, off_t offset, DirFiller& filler) {
  std::shared_ptr<DirSnapshot> snapshot;
  {
    std::lock_guard<std::mutex> lock(handles_mu_);
    auto it = dirs_.find(fh);
    if (it == dirs_.end()) {
      return MakeError(ErrorCode::kInvalidArgument, "unknown directory handle");
    }
    snapshot = it->second;
  }
  for (size_t i = static_cast<size_t>(std::max<off_t>(offset, 0)); i < snapshot->items.size();
       ++i) {
    const auto& item = snapshot->items[i];
    if (!filler.Add(item.name, item.st, static_cast<off_t>(i + 1))) {
      break;
    }
  }
  return OkStatus();
}

void Vfs::ReleaseDir(uint64_t fh) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  dirs_.erase(fh);
}

Result<UniqueFd> Vfs::DownloadOnce(const std::string& gid, uint64_t size, bool* url_expired) {
  *url_expired = false;
  ASSIGN_OR_RETURN(asana::Attachment att, api_.GetAttachment(gid));
  if (att.download_url.empty()) {
    return MakeError(ErrorCode::kNotSupported, "attachment has no download URL");
  }
  uint64_t expected = att.size.value_or(size);
  ASSIGN_OR_RETURN(auto fill, cache_.BeginFill(gid));
  int fd = fill.fd();
  bool write_failed = false;
  auto written = api_.Download(att.download_url, 0, 0, [&](std::string_view bytes) {
    if (!WriteAll(fd, bytes)) {
      write_failed = true;
      return false;
    }
    return true;
  });
  if (write_failed) {
    return SysError("writing the cache file");
  }
  if (!written.has_value()) {
    *url_expired = written.error().code == ErrorCode::kPermissionDenied;
    return Unexpected(written.error());
  }
  if (*written != expected) {
    return MakeError(ErrorCode::kBadResponse, "download returned " + std::to_string(*written) +
                                                  " bytes, expected " + std::to_string(expected));
  }
  return cache_.CommitFill(std::move(fill));
}

Result<UniqueFd> Vfs::FetchContent(const std::string& gid, uint64_t size) {
  // One download per gid at a time: a second opener waits, then hits the cache.
  std::shared_ptr<std::mutex> gid_mu;
  {
    std::lock_guard<std::mutex> lock(download_mu_);
    gid_mu = downloads_[gid].lock();
    if (!gid_mu) {
      gid_mu = std::make_shared<std::mutex>();
      downloads_[gid] = gid_mu;
    }
  }
  std::lock_guard<std::mutex> gid_lock(*gid_mu);
  if (auto cached = cache_.OpenCached(gid, size)) {
    return std::move(*cached);
  }
  bool url_expired = false;
  auto fd = DownloadOnce(gid, size, &url_expired);
  if (!fd.has_value() && url_expired) {
    // The URL can expire between fetching it and using it: refresh once.
    LOG(INFO) << "download URL of attachment " << gid << " was refused; fetching a fresh one";
    fd = DownloadOnce(gid, size, &url_expired);
  }
  {
    std::lock_guard<std::mutex> lock(download_mu_);
    if (auto it = downloads_.find(gid); it != downloads_.end() && it->second.use_count() <= 1) {
      downloads_.erase(it);
    }
  }
  return fd;
}

Result<OpenResult> Vfs::Open(uint64_t ino, int flags) {
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) {
    return MakeError(ErrorCode::kReadOnly, "this version of asanafs is read-only");
  }
  NodeKind kind;
  std::string gid;
  uint64_t size;
  std::string link_text;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* node = nodes_.Get(ino);
    if (node == nullptr) {
      return MakeError(ErrorCode::kNotFound, "unknown inode");
    }
    if (IsDirectory(node->kind)) {
      return MakeError(ErrorCode::kIsDirectory, "is a directory");
    }
    kind = node->kind;
    gid = node->gid;
    size = static_cast<uint64_t>(node->st.st_size);
    link_text = node->link_text;
  }
  auto file = std::make_shared<OpenFile>();
  if (kind == NodeKind::kLink || size == 0) {
    file->is_inline = true;
    file->inline_data = std::move(link_text);
  } else {
    ASSIGN_OR_RETURN(file->fd, FetchContent(gid, size));
  }
  std::lock_guard<std::mutex> lock(handles_mu_);
  uint64_t fh = next_fh_++;
  files_[fh] = std::move(file);
  return OpenResult{fh, true};
}

Result<size_t> Vfs::Read(uint64_t fh, char* buf, size_t size, off_t offset) {
  std::shared_ptr<OpenFile> file;
  {
    std::lock_guard<std::mutex> lock(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) {
      return MakeError(ErrorCode::kInvalidArgument, "unknown file handle");
    }
    file = it->second;
  }
  if (offset < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "negative offset");
  }
  if (file->is_inline) {
    size_t off = static_cast<size_t>(offset);
    if (off >= file->inline_data.size()) {
      return size_t{0};
    }
    size_t n = std::min(size, file->inline_data.size() - off);
    std::memcpy(buf, file->inline_data.data() + off, n);
    return n;
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(file->fd.get(), buf + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return SysError("reading the cache file");
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

void Vfs::Release(uint64_t fh) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  files_.erase(fh);
}

struct statvfs Vfs::StatFs() const {
  struct statvfs s {};
  s.f_bsize = 4096;
  s.f_frsize = 4096;
  // Asana has no quota to report; show a large, constant capacity.
  s.f_blocks = uint64_t{1} << 30;
  s.f_bfree = options_.read_only ? 0 : s.f_blocks;
  s.f_bavail = s.f_bfree;
  s.f_files = uint64_t{1} << 30;
  s.f_ffree = options_.read_only ? 0 : s.f_files;
  s.f_favail = s.f_ffree;
  s.f_namemax = 255;
  return s;
}

Status Vfs::RefuseWrite() const {
  return MakeError(ErrorCode::kReadOnly, "this version of asanafs is read-only");
}

}  // namespace asanafs::vfs
