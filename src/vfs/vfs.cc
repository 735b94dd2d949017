#include "asanafs/vfs/vfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <future>
#include <iterator>
#include <optional>

#include "asanafs/model/names.h"
#include "asanafs/util/block_writer.h"
#include "asanafs/util/log.h"
#include "asanafs/util/priority.h"
#include "vfs_internal.h"

namespace asanafs::vfs {
namespace {

constexpr std::string_view kStatusName = ".asanafs-status";

}  // namespace

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

Error SysError(const std::string& what) {
  int err = errno;
  Error e = MakeError(ErrorCode::kIo, what + ": " + std::strerror(err));
  e.sys_errno = err;
  return e;
}

Status WriteAllAt(int fd, const char* buf, size_t size, off_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, buf + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return SysError("writing the staged file");
    }
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

Result<size_t> ReadAt(int fd, char* buf, size_t size, off_t offset, const char* what) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buf + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return SysError(what);
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

Vfs::Vfs(asana::AsanaApi& api, model::ContentCache& cache, model::StateDb& state, Clock& clock,
         VfsOptions options)
    : api_(api),
      cache_(cache),
      state_(state),
      clock_(clock),
      options_(std::move(options)),
      mount_time_(clock.SystemNow()),
      fetch_pool_(options_.fetch_threads),
      listing_pool_(options_.prefetch_threads) {
  Node* root = nodes_.Get(NodeTable::kRootIno);
  root->st.st_ino = NodeTable::kRootIno;
  root->st.st_mode = DefaultDirMode(options_);
  root->st.st_nlink = 2;
  root->st.st_uid = options_.uid;
  root->st.st_gid = options_.gid;
  SetTimes(&root->st, mount_time_);
  if (auto overlays = state_.ListOverlays(); overlays.has_value()) {
    for (auto& [key, overlay] : *overlays) {
      overlays_[key] = overlay;
    }
  } else {
    LOG(WARN) << "cannot load the metadata overlay: " << overlays.error().message;
  }
  RecoverJournal();
  cache_.SetLimit(options_.cache_limit_bytes,
                  [this](const std::string& gid) { return IsOpen(gid); });
  if (options_.start_worker) {
    StartWorker();
  }
}

Vfs::~Vfs() {
  cache_.SetLimit(0, nullptr);
  {
    std::lock_guard<std::mutex> lock(work_mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (worker_.joinable()) {
    worker_.join();
  }
  if (events_thread_.joinable()) {
    events_thread_.join();
  }
  // Uploads running while their files were written end here, unfinished
  // (those files were never closed); their requests use this object.
  std::vector<std::shared_ptr<Staged>> open_files;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, s] : staged_) {
      open_files.push_back(s);
    }
  }
  for (const auto& s : open_files) {
    std::lock_guard<std::mutex> op(s->op_mu);
    s->stream.reset();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!staged_.empty()) {
    LOG(INFO) << staged_.size()
              << " staged file(s) not yet in Asana; they resume at the next mount";
  }
}

Entry Vfs::MakeEntry(const Node& node) const {
  Entry e;
  e.ino = node.ino;
  e.attr = node.st;
  e.entry_timeout = options_.entry_timeout;
  e.attr_timeout = options_.attr_timeout;
  return e;
}

void Vfs::ApplyOverlay(Node* node) const {
  auto it = overlays_.find(node->gid);
  if (it == overlays_.end()) {
    return;
  }
  const model::Overlay& o = it->second;
  struct stat& st = node->st;
  if (o.mode) {
    st.st_mode = (st.st_mode & S_IFMT) | (*o.mode & 07777);
  }
  if (o.uid) {
    st.st_uid = *o.uid;
  }
  if (o.gid) {
    st.st_gid = *o.gid;
  }
  if (o.mtime_ns) {
    st.st_mtim.tv_sec = static_cast<time_t>(*o.mtime_ns / 1000000000);
    st.st_mtim.tv_nsec = static_cast<long>(*o.mtime_ns % 1000000000);
  }
  if (o.atime_ns) {
    st.st_atim.tv_sec = static_cast<time_t>(*o.atime_ns / 1000000000);
    st.st_atim.tv_nsec = static_cast<long>(*o.atime_ns % 1000000000);
  }
}

namespace {

// Runs `fn` on another thread at the caller's priority (a background prefetch
// stays background): two independent lists cost one round trip, not two.
template <typename Fn>
auto RunAlongside(Fn fn) {
  return std::async(std::launch::async,
                    [fn = std::move(fn), background = BackgroundPriority::active()] {
                      std::optional<BackgroundPriority> priority;
                      if (background) {
                        priority.emplace();
                      }
                      return fn();
                    });
}

}  // namespace

Result<std::vector<Vfs::ChildSpec>> Vfs::FetchAttachments(const std::string& gid) {
  ASSIGN_OR_RETURN(auto attachments, api_.ListAttachments(gid));
  std::vector<ChildSpec> out;
  for (const auto& a : attachments) {
    ChildSpec c{NodeKind::kAttachment,
                a.gid,
                a.name,
                a.created_at,
                std::nullopt,
                0,
                {},
                a.view_url,
                a.host.empty() ? "asana" : a.host};
    if (a.IsAsanaHosted()) {
      c.size = a.size.value_or(0);
    } else {
      c.kind = NodeKind::kLink;
      c.link_text = model::InternetShortcut(a.view_url);
      c.size = c.link_text.size();
    }
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<Vfs::ChildSpec>> Vfs::FetchListing(NodeKind kind, const std::string& gid) {
  std::vector<ChildSpec> out;
  auto add_dir = [&out](NodeKind k, const std::string& g, const std::string& name,
                        std::optional<asana::TimePoint> created,
                        std::optional<asana::TimePoint> modified) {
    out.push_back(ChildSpec{k, g, name, created, modified, 0, {}, {}, {}});
  };
  auto add_tasks = [&](const std::vector<asana::Task>& tasks) {
    for (const auto& t : tasks) {
      add_dir(NodeKind::kTask, t.gid, t.name, t.created_at, t.modified_at);
      out.back().url = t.permalink_url;
    }
  };
  auto add_files = [&out](std::vector<ChildSpec> files) {
    std::move(files.begin(), files.end(), std::back_inserter(out));
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
      // Its Key resources (attachments whose parent is the project) sit next
      // to its tasks (or sections); both lists in one round trip.
      auto files_future = RunAlongside([this, &gid] { return FetchAttachments(gid); });
      if (options_.sections) {
        auto sections_or = api_.ListSections(gid);
        auto files_or = files_future.get();
        ASSIGN_OR_RETURN(auto sections, std::move(sections_or));
        ASSIGN_OR_RETURN(auto files, std::move(files_or));
        for (const auto& sec : sections) {
          add_dir(NodeKind::kSection, sec.gid, sec.name, sec.created_at, std::nullopt);
        }
        add_files(std::move(files));
      } else {
        auto tasks_or = api_.ListTasks(gid);
        auto files_or = files_future.get();
        ASSIGN_OR_RETURN(auto tasks, std::move(tasks_or));
        ASSIGN_OR_RETURN(auto files, std::move(files_or));
        add_tasks(tasks);
        add_files(std::move(files));
      }
      break;
    }
    case NodeKind::kSection: {
      ASSIGN_OR_RETURN(auto tasks, api_.ListSectionTasks(gid));
      add_tasks(tasks);
      break;
    }
    case NodeKind::kTask: {
      auto subtasks_future = RunAlongside([this, &gid] { return api_.ListSubtasks(gid); });
      auto files_or = FetchAttachments(gid);
      auto subtasks_or = subtasks_future.get();
      ASSIGN_OR_RETURN(auto files, std::move(files_or));
      ASSIGN_OR_RETURN(auto subtasks, std::move(subtasks_or));
      add_files(std::move(files));
      add_tasks(subtasks);
      break;
    }
    case NodeKind::kAttachment:
    case NodeKind::kLink:
    case NodeKind::kStatus:
      return MakeError(ErrorCode::kNotDirectory, "not a directory");
  }
  return out;
}

void Vfs::ApplyListing(uint64_t dir, const std::vector<ChildSpec>& listed) {
  Node* parent = nodes_.Get(dir);
  // Attachments that a staged upload replaces are hidden: the staged file
  // stands in their place until it lands and they are deleted.
  // So is the attachment an upload just created, until Finish() gives the
  // staged node its gid: else the listing makes a second node for it.
  // (A gid is one attachment under one parent: a moved file's old version is
  // hidden in its old task too.)
  std::set<std::string> hidden;
  for (const auto& [id, s] : staged_) {
    for (const auto& gid : SplitGids(s->rec.replaces_gid)) {
      hidden.insert(gid);
    }
    if (s->rec.state == model::UploadState::kUploaded && !s->inos.empty()) {
      hidden.insert(s->rec.uploaded_gid);
    }
  }
  std::vector<const ChildSpec*> children;
  std::vector<model::NameInput> inputs;
  for (const auto& c : listed) {
    if (hidden.count(c.gid) != 0) {
      continue;
    }
    model::NameInput in;
    in.gid = c.gid;
    in.name = c.raw_name;
    in.created_at = c.created_at;
    in.is_dir = IsDirectory(c.kind);
    in.is_link = c.kind == NodeKind::kLink;
    inputs.push_back(std::move(in));
    children.push_back(&c);
  }
  std::vector<std::string> names = model::AssignNames(inputs);

  std::vector<uint64_t> before;
  for (const auto& [name, ino] : parent->children) {
    before.push_back(ino);
  }
  parent->children.clear();
  std::vector<uint64_t> listed_inos;
  for (size_t i = 0; i < children.size(); ++i) {
    const ChildSpec& c = *children[i];
    Node* node = nodes_.Intern(dir, c.gid, c.kind);
    listed_inos.push_back(node->ino);
    node->kind = c.kind;
    node->name = names[i];
    node->raw_name = c.raw_name;
    node->link_text = c.link_text;
    node->url = c.url;
    node->host = c.host;
    node->created_at = c.created_at;
    node->staged_id = 0;
    struct stat& st = node->st;
    st = {};
    st.st_ino = node->ino;
    st.st_uid = options_.uid;
    st.st_gid = options_.gid;
    if (IsDirectory(c.kind)) {
      st.st_mode = DefaultDirMode(options_);
      st.st_nlink = 2;
      SetTimes(&st, c.kind == NodeKind::kTask && c.modified_at ? *c.modified_at : mount_time_);
    } else {
      st.st_mode = DefaultFileMode(options_, c.kind != NodeKind::kLink);
      st.st_nlink = 1;
      st.st_size = static_cast<off_t>(c.size);
      st.st_blksize = kIoBlockSize;
      st.st_blocks = static_cast<blkcnt_t>((c.size + 511) / 512);
      SetTimes(&st, c.created_at.value_or(mount_time_));
    }
    ApplyOverlay(node);
    parent->children[names[i]] = node->ino;
  }
  if (parent->kind == NodeKind::kTask || parent->kind == NodeKind::kProject) {
    AddStagedChildren(parent);  // files written here and not yet in Asana
  }
  for (uint64_t ino : before) {
    DropIfUnused(ino);  // files gone from Asana that the kernel no longer knows
  }
  for (uint64_t ino : listed_inos) {
    // A file a staged one of the same name stands in for (an upload whose
    // reply is still on the wire): Finish gives the staged node its gid.
    DropIfUnused(ino);
  }
  parent->listed = true;
  parent->stale = false;
  parent->listed_at = clock_.SteadyNow();
}

void Vfs::AddStagedChildren(Node* dir) {
  for (const auto& [id, s] : staged_) {
    // Landed and finished (only its old version's deletion is left): the
    // listing shows it under its gid. Landed, not finished: still the staged node.
    if (s->discarded || s->rec.task_gid != dir->gid ||
        (s->rec.state == model::UploadState::kUploaded && s->inos.empty())) {
      continue;
    }
    // A staged file keeps the name the user gave it; it wins over a listed
    // file of the same name (which it normally replaces anyway).
    Node* node = nodes_.Intern(dir->ino, s->Key(), NodeKind::kAttachment);
    node->kind = NodeKind::kAttachment;
    node->name = s->rec.name;
    node->raw_name = s->rec.name;
    node->staged_id = id;
    if (std::find(s->inos.begin(), s->inos.end(), node->ino) == s->inos.end()) {
      s->inos.push_back(node->ino);
    }
    if (node->st.st_ino == 0) {
      node->st.st_ino = node->ino;
      node->st.st_mode = DefaultFileMode(options_);
      node->st.st_nlink = 1;
      node->st.st_uid = options_.uid;
      node->st.st_gid = options_.gid;
      node->st.st_size = static_cast<off_t>(s->rec.size);
      SetTimes(&node->st,
               std::chrono::system_clock::time_point(std::chrono::seconds(s->rec.staged_at)));
      ApplyOverlay(node);
    }
    dir->children[node->name] = node->ino;
  }
}

void Vfs::AddStatusNode(Node* root) {
  Node* node = nodes_.Intern(root->ino, "asanafs-status", NodeKind::kStatus);
  node->kind = NodeKind::kStatus;
  node->name = node->raw_name = ".asanafs-status";
  node->st = {};
  node->st.st_ino = node->ino;
  node->st.st_mode = DefaultFileMode(options_, false);
  node->st.st_nlink = 1;
  node->st.st_uid = options_.uid;
  node->st.st_gid = options_.gid;
  SetTimes(&node->st, mount_time_);
  // Not listed by readdir (find, rsync and ls -a stay clean), but found by name.
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
  NoteUse(node);
  if (node->listed && !node->stale && clock_.SteadyNow() - node->listed_at < options_.dir_ttl) {
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
  uint64_t changes = node->local_changes;
  lock.unlock();

  auto listing = FetchListing(kind, gid);

  lock.lock();
  node = nodes_.Get(dir);
  // A file landed, moved or was removed here while the listing was on the
  // wire: Asana may have answered before that change, and applying it would
  // bring back what was removed or hide what just landed. Ask again.
  for (int again = 0; listing.has_value() && node->local_changes != changes && again < 3; ++again) {
    changes = node->local_changes;
    lock.unlock();
    listing = FetchListing(kind, gid);
    lock.lock();
    node = nodes_.Get(dir);
  }
  listing_in_flight_.erase(dir);
  Status status;
  if (listing.has_value() && node->local_changes != changes && node->listed) {
    // Still changing: keep what this mount knows, list again at the next use.
    node->stale = true;
  } else if (listing.has_value()) {
    ApplyListing(dir, *listing);
  } else if (node->listed) {
    // A stale listing beats an error: keep serving it, retry at the next access.
    LOG(WARN) << "listing of " << Redacted{node->name}
              << " failed, serving the previous one: " << listing.error().message;
  } else {
    status = Unexpected(listing.error());
  }
  lock.unlock();
  promise.set_value(status);
  return status;
}

Result<Entry> Vfs::Lookup(uint64_t parent, std::string_view name) {
  if (parent == NodeTable::kRootIno && name == kStatusName) {
    std::lock_guard<std::mutex> lock(mu_);
    Node* root = nodes_.Get(NodeTable::kRootIno);
    AddStatusNode(root);
    Node* status = nodes_.Intern(root->ino, "asanafs-status", NodeKind::kStatus);
    status->nlookup++;
    status->st.st_size = static_cast<off_t>(StatusTextLocked().size());
    return MakeEntry(*status);
  }
  RETURN_IF_ERROR(EnsureListed(parent));
  std::lock_guard<std::mutex> lock(mu_);
  Node* dir = nodes_.Get(parent);
  auto it = dir->children.find(std::string(name));
  if (it == dir->children.end()) {
    return MakeError(ErrorCode::kNotFound, "no such name");
  }
  Node* child = nodes_.Get(it->second);
  child->nlookup++;
  if (child->kind == NodeKind::kStatus) {
    child->st.st_size = static_cast<off_t>(StatusTextLocked().size());
  }
  return MakeEntry(*child);
}

void Vfs::Forget(uint64_t ino, uint64_t nlookup) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Node* node = nodes_.Get(ino)) {
    node->nlookup -= std::min(node->nlookup, nlookup);
    DropIfUnused(ino);
  }
}

void Vfs::DropIfUnused(uint64_t ino) {
  Node* node = nodes_.Get(ino);
  if (node == nullptr || IsDirectory(node->kind) || node->kind == NodeKind::kStatus ||
      node->nlookup != 0 || node->staged_id != 0) {
    return;
  }
  Node* dir = nodes_.Get(node->parent);
  if (dir != nullptr) {
    auto it = dir->children.find(node->name);
    if (it != dir->children.end() && it->second == ino) {
      return;  // still listed: the cache of its attributes
    }
  }
  nodes_.Erase(ino);
}

Result<struct stat> Vfs::GetAttr(uint64_t ino) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* node = nodes_.Get(ino);
  if (node == nullptr) {
    return MakeError(ErrorCode::kNotFound, "unknown inode");
  }
  if (node->kind == NodeKind::kStatus) {
    node->st.st_size = static_cast<off_t>(StatusTextLocked().size());
  }
  return node->st;
}

void Vfs::NoteDescent(uint64_t ino) {
  std::vector<uint64_t> siblings;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* dir = nodes_.Get(ino);
    Node* parent = dir != nullptr ? nodes_.Get(dir->parent) : nullptr;
    if (parent == nullptr || parent == dir || !parent->listed) {
      return;
    }
    if (parent->descent_epoch != parent->listed_at) {
      parent->descent_epoch = parent->listed_at;
      parent->descents = 0;
      parent->last_descent = 0;
      parent->prefetched = false;
    }
    if (parent->last_descent == ino) {
      return;
    }
    parent->last_descent = ino;
    // One child opened is someone browsing; two in a row is a traversal.
    if (++parent->descents < 2 || parent->prefetched) {
      return;
    }
    parent->prefetched = true;
    for (const auto& [name, child_ino] : parent->children) {
      Node* child = nodes_.Get(child_ino);
      if (child_ino != ino && IsDirectory(child->kind) && !child->listed &&
          !listing_in_flight_.contains(child_ino)) {
        siblings.push_back(child_ino);
      }
    }
  }
  if (siblings.empty()) {
    return;
  }
  std::vector<std::function<void()>> jobs;
  for (uint64_t sibling : siblings) {
    jobs.push_back([this, sibling] { PrefetchListing(sibling, 1); });
  }
  // Ahead of older prefetches: this is where the traversal is now.
  listing_pool_.SubmitFirst(std::move(jobs));
}

void Vfs::PrefetchListing(uint64_t ino, int depth) {
  BackgroundPriority priority;
  if (!EnsureListed(ino).has_value() || depth <= 0) {
    return;
  }
  std::vector<uint64_t> children;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* dir = nodes_.Get(ino);
    for (const auto& [name, child_ino] : dir->children) {
      Node* child = nodes_.Get(child_ino);
      if (IsDirectory(child->kind) && !child->listed) {
        children.push_back(child_ino);
      }
    }
  }
  for (uint64_t child : children) {
    listing_pool_.Submit([this, child, depth] { PrefetchListing(child, depth - 1); });
  }
}

Result<uint64_t> Vfs::OpenDir(uint64_t ino) {
  RETURN_IF_ERROR(EnsureListed(ino));
  NoteDescent(ino);
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
    return MakeError(ErrorCode::kNotSupported, "attachment " + gid + " has no download URL");
  }
  uint64_t expected = att.size.value_or(size);
  ASSIGN_OR_RETURN(auto fill, cache_.BeginFill(gid));
  BlockWriter out(fill.fd(), 0);
  std::optional<Error> write_error;
  auto written = api_.Download(att.download_url, 0, 0, [&](std::string_view bytes) {
    if (auto appended = out.Append(bytes); !appended.has_value()) {
      write_error = appended.error();
      return false;
    }
    return true;
  });
  if (!write_error.has_value()) {
    if (auto flushed = out.Flush(); !flushed.has_value()) {
      write_error = flushed.error();
    }
  }
  if (write_error.has_value()) {
    write_error->message = "writing the cache file of " + gid + ": " + write_error->message;
    return *write_error;  // kIo with the errno of the failed write
  }
  if (!written.has_value()) {
    *url_expired = written.error().code == ErrorCode::kPermissionDenied;
    return Unexpected(written.error());
  }
  if (*written != expected) {
    return MakeError(ErrorCode::kBadResponse, "download of " + gid + " returned " +
                                                  std::to_string(*written) + " bytes, expected " +
                                                  std::to_string(expected));
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
  Result<UniqueFd> fd = MakeError(ErrorCode::kInternal, "not fetched");
  {
    std::lock_guard<std::mutex> gid_lock(*gid_mu);
    if (auto cached = cache_.OpenCached(gid, size)) {
      fd = std::move(*cached);
    } else {
      bool url_expired = false;
      fd = DownloadOnce(gid, size, &url_expired);
      if (!fd.has_value() && url_expired) {
        // The URL can expire between fetching it and using it: refresh once.
        LOG(INFO) << "download URL of attachment " << gid << " was refused; fetching a fresh one";
        fd = DownloadOnce(gid, size, &url_expired);
      }
    }
  }
  gid_mu.reset();  // else the entry below is never expired and downloads_ only grows
  std::lock_guard<std::mutex> lock(download_mu_);
  if (auto it = downloads_.find(gid); it != downloads_.end() && it->second.expired()) {
    downloads_.erase(it);
  }
  return fd;
}

bool Vfs::IsOpen(const std::string& gid) {
  {
    std::lock_guard<std::mutex> lock(remotes_mu_);
    if (auto it = remotes_.find(gid); it != remotes_.end() && !it->second.expired()) {
      return true;
    }
  }
  std::lock_guard<std::mutex> lock(handles_mu_);
  for (const auto& [fh, file] : files_) {
    if (file->gid == gid) {
      return true;
    }
  }
  return false;
}

Result<std::shared_ptr<RemoteFile>> Vfs::OpenRemote(const std::string& gid, uint64_t size) {
  {
    std::lock_guard<std::mutex> lock(remotes_mu_);
    if (auto it = remotes_.find(gid); it != remotes_.end()) {
      if (auto existing = it->second.lock()) {
        existing->AddReader();
        return existing;
      }
    }
  }
  // A fresh download URL at every open (they expire after about two minutes);
  // this also tells ENOENT before the first read.
  ASSIGN_OR_RETURN(asana::Attachment att, api_.GetAttachment(gid));
  ASSIGN_OR_RETURN(auto remote, RemoteFile::Create(api_, cache_, clock_, fetch_pool_, att,
                                                   att.size.value_or(size), options_.reader));
  std::lock_guard<std::mutex> lock(remotes_mu_);
  if (auto raced = remotes_[gid].lock()) {
    raced->AddReader();
    return raced;  // another opener won: share its fetches
  }
  remote->AddReader();
  remotes_[gid] = remote;
  // Entries of closed files: few are open at a time, so sweeping past 64 is cheap.
  if (remotes_.size() > 64) {
    std::erase_if(remotes_, [](const auto& entry) { return entry.second.expired(); });
  }
  return remote;
}

std::shared_ptr<Vfs::OpenFile> Vfs::FindFile(uint64_t fh) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  auto it = files_.find(fh);
  return it == files_.end() ? nullptr : it->second;
}

uint64_t Vfs::AddHandle(std::shared_ptr<OpenFile> file) {
  std::lock_guard<std::mutex> lock(handles_mu_);
  uint64_t fh = next_fh_++;
  files_[fh] = std::move(file);
  return fh;
}

Result<OpenResult> Vfs::Open(uint64_t ino, int flags, pid_t pid) {
  const bool writable = (flags & O_ACCMODE) != O_RDONLY;
  const bool truncate = (flags & O_TRUNC) != 0 && writable;
  if (writable) {
    RETURN_IF_ERROR(CheckWritable());
  }
  NodeKind kind;
  std::string gid;
  uint64_t size;
  std::shared_ptr<Staged> staged;
  auto file = std::make_shared<OpenFile>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* node = nodes_.Get(ino);
    if (node == nullptr) {
      return MakeError(ErrorCode::kNotFound, "unknown inode");
    }
    if (IsDirectory(node->kind)) {
      return MakeError(ErrorCode::kIsDirectory, "is a directory");
    }
    if (node->kind == NodeKind::kStatus) {
      if (writable) {
        return MakeError(ErrorCode::kNotPermitted, ".asanafs-status is read-only");
      }
      file->is_inline = true;
      file->inline_data = StatusTextLocked();
      file->ino = ino;
      kind = NodeKind::kStatus;
    }
    if (node->kind == NodeKind::kLink && writable) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "links to files hosted outside Asana cannot be written");
    }
    kind = node->kind;
    gid = node->gid;
    size = static_cast<uint64_t>(node->st.st_size);
    if (kind != NodeKind::kStatus) {
      file->inline_data = node->link_text;
    }
    if (node->staged_id != 0) {
      staged = staged_.at(node->staged_id);
    }
  }
  file->ino = ino;
  file->open_pid = pid;
  file->writable = writable;
  if (kind == NodeKind::kStatus) {
    // Generated at open: its size changes, so no page cache.
    return OpenResult{AddHandle(std::move(file)), false, true};
  }
  if (kind == NodeKind::kLink) {
    file->is_inline = true;
    return OpenResult{AddHandle(std::move(file)), true, false};
  }
  if (staged == nullptr && truncate) {
    ASSIGN_OR_RETURN(staged, StageExisting(ino, true));
  }
  if (staged != nullptr) {
    std::unique_lock<std::mutex> op(staged->op_mu);
    if (staged->finished) {
      // Its upload landed since the lookup: the staged file is gone and the
      // node now stands for the attachment (Finish ran under op_mu). Open that.
      op.unlock();
      {
        std::lock_guard<std::mutex> lock(mu_);
        Node* node = nodes_.Get(ino);
        if (node == nullptr || node->staged_id == staged->rec.id) {
          return MakeError(ErrorCode::kNotFound, "the staged file landed and is gone");
        }
      }
      return Open(ino, flags, pid);
    }
    if (truncate && ::ftruncate(staged->fd.get(), 0) != 0) {
      return SysError("truncating the staged file");
    }
    if (truncate) {
      staged->dirty = true;
      std::lock_guard<std::mutex> lock(mu_);
      for (uint64_t i : staged->inos) {
        if (Node* n = nodes_.Get(i)) {
          n->st.st_size = 0;
        }
      }
    }
    file->fd.Reset(::open(staged->path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file->fd.valid()) {
      return SysError("opening the staged file");
    }
    if (writable) {
      file->staged = staged;
      staged->writers++;
    }
    // Staged content changes: the kernel must not keep stale pages.
    return OpenResult{AddHandle(std::move(file)), false, false};
  }
  if (size == 0) {
    file->is_inline = true;  // an empty file needs no request
  } else if (auto cached = cache_.OpenCached(gid, size)) {
    file->fd = std::move(*cached);
    file->gid = gid;
    file->size = size;
  } else {
    ASSIGN_OR_RETURN(file->remote, OpenRemote(gid, size));
  }
  return OpenResult{AddHandle(std::move(file)), !writable, false};
}

// The kernel reads a FUSE file in requests of a few hundred KiB, each served
// by reading the cache file; keeping that file's disk reads ahead of them
// hides the disk latency (the local page cache's readahead does the same for
// `cat` of a local file).
void Vfs::ReadAheadCached(OpenFile& file, uint64_t read_end) {
  constexpr uint64_t kAhead = 8u << 20;  // read ahead this far...
  constexpr uint64_t kStep = 2u << 20;   // ...in steps of at least this much
  uint64_t done = file.cache_ahead.load(std::memory_order_relaxed);
  const uint64_t want = std::min(file.size, read_end + kAhead);
  if (want < done + kStep && want != file.size) {
    return;
  }
  if (want <= done || !file.cache_ahead.compare_exchange_strong(done, want)) {
    return;  // nothing new, or another reader is doing it
  }
  ::posix_fadvise(file.fd.get(), static_cast<off_t>(done), static_cast<off_t>(want - done),
                  POSIX_FADV_WILLNEED);
}

Result<ReadSource> Vfs::PrepareRead(uint64_t fh, size_t size, off_t offset) {
  std::shared_ptr<OpenFile> file = FindFile(fh);
  if (file == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "unknown file handle");
  }
  if (offset < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "negative offset");
  }
  ReadSource src;
  src.offset = offset;
  if (file->is_inline && file->staged == nullptr) {
    const std::string_view all = file->inline_data;
    const size_t off = std::min(static_cast<size_t>(offset), all.size());
    src.inline_bytes = all.substr(off, size);
    src.size = src.inline_bytes.size();
    src.keep = std::move(file);
    return src;
  }
  // The file's current length, so that a reply never reaches past it.
  uint64_t length;
  if (file->staged != nullptr || (file->remote == nullptr && file->gid.empty())) {
    // Staged content: it may still be growing.
    src.fd = file->staged != nullptr ? file->staged->fd.get() : file->fd.get();
    struct stat st;
    if (::fstat(src.fd, &st) != 0) {
      return SysError("reading the staged file's size");
    }
    length = static_cast<uint64_t>(st.st_size);
  } else if (file->remote != nullptr) {
    ReadAhead ra;
    {
      std::lock_guard<std::mutex> lock(file->ra_mu);
      ra = file->ra;
    }
    RETURN_IF_ERROR(file->remote->EnsureRange(static_cast<uint64_t>(offset), size, ra));
    {
      std::lock_guard<std::mutex> lock(file->ra_mu);
      file->ra = ra;
    }
    src.fd = file->remote->fd();
    length = file->remote->size();
  } else {
    src.fd = file->fd.get();
    length = file->size;
    ReadAheadCached(*file, static_cast<uint64_t>(offset) + size);
  }
  src.size = static_cast<size_t>(
      std::min<uint64_t>(size, length - std::min<uint64_t>(length, static_cast<uint64_t>(offset))));
  src.keep = std::move(file);
  return src;
}

Result<size_t> Vfs::Read(uint64_t fh, char* buf, size_t size, off_t offset) {
  ASSIGN_OR_RETURN(ReadSource src, PrepareRead(fh, size, offset));
  if (src.fd < 0) {
    std::memcpy(buf, src.inline_bytes.data(), src.size);
    return src.size;
  }
  return ReadAt(src.fd, buf, src.size, offset, "reading the cached file");
}

struct statvfs Vfs::StatFs() const {
  struct statvfs s {};
  s.f_bsize = 4096;
  s.f_frsize = 4096;
  // Asana reports no quota: show a large, constant capacity so cp and df work.
  s.f_blocks = uint64_t{1} << 30;
  s.f_bfree = options_.read_only ? 0 : s.f_blocks - cache_.UsedBytes() / 4096;
  s.f_bavail = s.f_bfree;
  s.f_files = uint64_t{1} << 30;
  s.f_ffree = options_.read_only ? 0 : s.f_files;
  s.f_favail = s.f_ffree;
  s.f_namemax = 255;
  return s;
}

namespace {

constexpr std::string_view kXattrPrefix = "user.asana.";

const char* ResourceType(NodeKind kind) {
  switch (kind) {
    case NodeKind::kWorkspace:
      return "workspace";
    case NodeKind::kProject:
      return "project";
    case NodeKind::kSection:
      return "section";
    case NodeKind::kTask:
      return "task";
    case NodeKind::kAttachment:
    case NodeKind::kLink:
      return "attachment";
    case NodeKind::kRoot:
    case NodeKind::kStatus:
      return "";
  }
  return "";
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm_buf;
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", gmtime_r(&secs, &tm_buf));
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

}  // namespace

Result<std::vector<std::string>> Vfs::ListXattr(uint64_t ino) {
  std::vector<std::string> names;
  for (const char* n : {"gid", "resource_type", "url", "host", "created_at", "upload_state"}) {
    auto value = GetXattr(ino, std::string(kXattrPrefix) + n);
    if (value.has_value()) {
      names.push_back(std::string(kXattrPrefix) + n);
    } else if (value.error().code != ErrorCode::kNoAttribute) {
      return Unexpected(value.error());
    }
  }
  return names;
}

Result<std::string> Vfs::GetXattr(uint64_t ino, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  Node* node = nodes_.Get(ino);
  if (node == nullptr) {
    return MakeError(ErrorCode::kNotFound, "unknown inode");
  }
  Error none = MakeError(ErrorCode::kNoAttribute, "no such attribute");
  if (name.substr(0, kXattrPrefix.size()) != kXattrPrefix || node->kind == NodeKind::kRoot ||
      node->kind == NodeKind::kStatus) {
    return none;
  }
  std::string_view key = name.substr(kXattrPrefix.size());
  std::shared_ptr<Staged> staged;
  if (node->staged_id != 0) {
    staged = staged_.at(node->staged_id);
  }
  if (key == "gid") {
    return staged ? none : Result<std::string>(node->gid);
  }
  if (key == "resource_type") {
    return std::string(ResourceType(node->kind));
  }
  if (key == "url") {
    return node->url.empty() || staged ? none : Result<std::string>(node->url);
  }
  if (key == "host") {
    if (IsDirectory(node->kind)) {
      return none;
    }
    return staged ? std::string("asana") : node->host.empty() ? std::string("asana") : node->host;
  }
  if (key == "created_at") {
    return node->created_at && !staged ? Result<std::string>(FormatTime(*node->created_at)) : none;
  }
  if (key == "upload_state") {
    if (staged) {
      const model::UploadRecord& r = staged->rec;
      if (staged->uploading) {
        return std::string("uploading");
      }
      if (!r.last_error.empty()) {
        return "failed: " + r.last_error;
      }
      return std::string("staged");
    }
    return node->uploaded_here ? Result<std::string>(std::string("uploaded")) : none;
  }
  return none;
}

std::string Vfs::StatusText() {
  std::lock_guard<std::mutex> lock(mu_);
  return StatusTextLocked();
}

std::string Vfs::StatusTextLocked() {
  std::string out = "asanafs " ASANAFS_VERSION "\n";
  size_t failed = 0;
  std::string lines;
  for (const auto& [id, s] : staged_) {
    const model::UploadRecord& r = s->rec;
    const char* state = s->uploading                               ? "uploading"
                        : s->streaming                             ? "streaming"
                        : !r.last_error.empty()                    ? "failed"
                        : r.state == model::UploadState::kOpen     ? "writing"
                        : r.state == model::UploadState::kDeferred ? "waiting-rename"
                        : r.state == model::UploadState::kUploaded ? "deleting-old"
                                                                   : "queued";
    failed += r.last_error.empty() ? 0 : 1;
    // While it uploads: bytes sent (multipart framing included) of the file's size.
    // While it is still written and already uploading: bytes sent so far.
    const std::string bytes = s->uploading ? std::to_string(std::min<uint64_t>(s->sent, r.size)) +
                                                 "/" + std::to_string(r.size)
                              : s->streaming ? std::to_string(s->sent) + "/?"
                                             : std::to_string(r.size);
    lines += std::string("  ") + state + "\t" + bytes + " bytes\ttask " + r.task_gid + "\t" +
             model::SanitizeComponent(r.name);
    if (!r.last_error.empty()) {
      lines += "\t" + r.last_error;
    }
    lines += "\n";
  }
  out += "uploads not yet in Asana: " + std::to_string(staged_.size()) + " (" +
         std::to_string(failed) + " failed, retrying)\n" + lines;
  out += "cache: " + std::to_string(cache_.UsedBytes()) + " bytes used of " +
         (options_.cache_limit_bytes == 0 ? std::string("unlimited")
                                          : std::to_string(options_.cache_limit_bytes)) +
         " in " + cache_.dir() + "\n";
  return out;
}

}  // namespace asanafs::vfs
