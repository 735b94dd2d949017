// The write side of Vfs: staging, the upload journal, uploads at close,
// overwrite/rename as upload-new-then-delete-old, mkdir, the metadata
// overlay, crash recovery and the background retry worker.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "asanafs/model/names.h"
#include "asanafs/util/log.h"
#include "asanafs/vfs/vfs.h"
#include "vfs_internal.h"

namespace asanafs::vfs {
namespace {

constexpr unsigned kRenameNoReplace = 1;  // RENAME_NOREPLACE
constexpr unsigned kRenameExchange = 2;   // RENAME_EXCHANGE
// Attachments that landed this long before their journal entry says the
// content was complete still count as "landed" when recovering (clock skew).
constexpr std::chrono::seconds kLandedSlack{300};

int64_t ToNs(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Copies `bytes` bytes from the start of `from` into `to`.
bool CopyContent(int from, int to, uint64_t bytes) {
  off_t in_off = 0;
  off_t out_off = 0;
  while (static_cast<uint64_t>(in_off) < bytes) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(bytes - in_off, 1 << 30));
    ssize_t n = ::copy_file_range(from, &in_off, to, &out_off, chunk, 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
      char buf[65536];
      ssize_t r = ::pread(from, buf, sizeof buf, in_off);
      if (r <= 0 || ::pwrite(to, buf, static_cast<size_t>(r), out_off) != r) {
        return false;
      }
      in_off += r;
      out_off += r;
      continue;
    }
    if (n <= 0) {
      return n == 0 && static_cast<uint64_t>(in_off) == bytes;
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> SplitGids(const std::string& joined) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < joined.size()) {
    size_t comma = joined.find(',', start);
    if (comma == std::string::npos) {
      comma = joined.size();
    }
    if (comma > start) {
      out.push_back(joined.substr(start, comma - start));
    }
    start = comma + 1;
  }
  return out;
}

std::string JoinGids(const std::vector<std::string>& gids) {
  std::string out;
  for (const auto& g : gids) {
    if (g.empty()) {
      continue;
    }
    if (!out.empty()) {
      out += ',';
    }
    out += g;
  }
  return out;
}

bool IsTemporaryName(std::string_view name) {
  if (name.size() < 9 || name[0] != '.') {
    return false;
  }
  size_t dot = name.size() - 7;
  if (name[dot] != '.' || dot < 2) {
    return false;
  }
  return std::all_of(name.begin() + static_cast<long>(dot) + 1, name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

Status Vfs::CheckWritable() const {
  if (options_.read_only) {
    return MakeError(ErrorCode::kReadOnly, "mounted read-only");
  }
  return OkStatus();
}

Status Vfs::RefuseUnsupported(const char* what) const {
  RETURN_IF_ERROR(CheckWritable());
  return MakeError(ErrorCode::kNotPermitted,
                   std::string(what) + " cannot be stored in Asana (only regular files)");
}

// mu_ held.
Status Vfs::SetOverlayFor(const std::string& key, const model::Overlay& overlay) {
  overlays_[key] = overlay;
  return state_.SetOverlay(key, overlay);
}

// mu_ held.
void Vfs::MoveOverlay(const std::string& from, const std::string& to) {
  auto it = overlays_.find(from);
  if (it == overlays_.end()) {
    return;
  }
  overlays_[to] = it->second;
  overlays_.erase(from);
  if (auto moved = state_.MoveOverlay(from, to); !moved) {
    LOG(WARN) << "cannot move attributes to attachment " << to << ": " << moved.error().message;
  }
}

Result<std::shared_ptr<Vfs::Staged>> Vfs::NewStaged(model::UploadRecord rec, int content_fd,
                                                    uint64_t copy_bytes) {
  rec.state = model::UploadState::kOpen;
  rec.staged_at = UnixSeconds(clock_.SystemNow());
  ASSIGN_OR_RETURN(rec.id, state_.AddUpload(rec));
  auto s = std::make_shared<Staged>();
  s->rec = rec;
  s->path = options_.staging_dir + "/" + std::to_string(rec.id);
  s->fd.Reset(::open(s->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!s->fd.valid() || (content_fd >= 0 && !CopyContent(content_fd, s->fd.get(), copy_bytes))) {
    Error e = SysError("staging " + rec.name + " in " + options_.staging_dir);
    ::unlink(s->path.c_str());
    (void)state_.RemoveUpload(rec.id);
    return e;
  }
  return s;
}

Result<std::shared_ptr<Vfs::Staged>> Vfs::StageExisting(uint64_t ino, bool truncate) {
  std::string gid;
  std::string task_gid;
  std::string raw_name;
  uint64_t size;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* node = nodes_.Get(ino);
    if (node == nullptr) {
      return MakeError(ErrorCode::kNotFound, "the file is gone");
    }
    if (node->staged_id != 0) {
      return staged_.at(node->staged_id);
    }
    gid = node->gid;
    raw_name = node->raw_name;
    size = static_cast<uint64_t>(node->st.st_size);
    task_gid = nodes_.Get(node->parent)->gid;
  }
  UniqueFd content;
  if (!truncate && size > 0) {
    ASSIGN_OR_RETURN(content, FetchContent(gid, size));
  }
  model::UploadRecord rec;
  rec.task_gid = task_gid;
  rec.name = raw_name;
  rec.replaces_gid = gid;
  ASSIGN_OR_RETURN(auto s,
                   NewStaged(rec, content.valid() ? content.get() : -1, truncate ? 0 : size));
  std::lock_guard<std::mutex> lock(mu_);
  Node* node = nodes_.Get(ino);
  if (node->staged_id != 0) {  // another writer staged it meanwhile: use theirs
    ::unlink(s->path.c_str());
    (void)state_.RemoveUpload(s->rec.id);
    return staged_.at(node->staged_id);
  }
  staged_[s->rec.id] = s;
  s->inos.push_back(ino);
  node->staged_id = s->rec.id;
  nodes_.Rekey(ino, node->parent, s->Key());
  MoveOverlay(gid, s->Key());
  if (truncate) {
    node->st.st_size = 0;
  }
  return s;
}

Result<CreateResult> Vfs::Create(uint64_t parent, std::string_view name, mode_t mode, int flags,
                                 pid_t pid) {
  (void)flags;
  RETURN_IF_ERROR(CheckWritable());
  RETURN_IF_ERROR(EnsureListed(parent));
  std::string task_gid;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* dir = nodes_.Get(parent);
    if (dir->kind != NodeKind::kTask && dir->kind != NodeKind::kProject) {
      return MakeError(ErrorCode::kNotPermitted,
                       "files can be created only in task directories and project directories "
                       "(attachments belong to a task or, as Key resources, to a project)");
    }
    if (dir->children.count(std::string(name)) != 0) {
      return MakeError(ErrorCode::kExists, "name exists");
    }
    task_gid = dir->gid;
  }
  model::UploadRecord rec;
  rec.task_gid = task_gid;
  rec.name = std::string(name);
  ASSIGN_OR_RETURN(auto s, NewStaged(rec, -1, 0));
  s->dirty = true;  // even an empty new file is uploaded
  s->writers = 1;
  auto file = std::make_shared<OpenFile>();
  file->open_pid = pid;
  file->writable = true;
  file->staged = s;
  Entry entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* dir = nodes_.Get(parent);
    if (dir->children.count(std::string(name)) != 0) {
      ::unlink(s->path.c_str());
      (void)state_.RemoveUpload(s->rec.id);
      return MakeError(ErrorCode::kExists, "name exists");
    }
    staged_[s->rec.id] = s;
    Node* node = nodes_.Intern(parent, s->Key(), NodeKind::kAttachment);
    node->kind = NodeKind::kAttachment;
    node->name = node->raw_name = std::string(name);
    node->staged_id = s->rec.id;
    node->st = {};
    node->st.st_ino = node->ino;
    node->st.st_mode = DefaultFileMode(options_);
    node->st.st_nlink = 1;
    node->st.st_uid = options_.uid;
    node->st.st_gid = options_.gid;
    node->st.st_blksize = kIoBlockSize;
    SetTimes(&node->st, clock_.SystemNow());
    if ((mode & 07777) != (DefaultFileMode(options_) & 07777)) {
      model::Overlay o;
      o.mode = mode & 07777;
      if (auto set = SetOverlayFor(s->Key(), o); !set) {
        LOG(WARN) << "cannot keep the mode of " << Redacted{name} << ": " << set.error().message;
      }
      ApplyOverlay(node);
    }
    s->inos.push_back(node->ino);
    dir->children[node->name] = node->ino;
    dir->local_changes++;
    node->nlookup++;
    entry = MakeEntry(*node);
    file->ino = node->ino;
  }
  return CreateResult{entry, AddHandle(std::move(file))};
}

Result<size_t> Vfs::Write(uint64_t fh, const char* buf, size_t size, off_t offset) {
  std::shared_ptr<OpenFile> file = FindFile(fh);
  if (file == nullptr || !file->writable) {
    return MakeError(ErrorCode::kInvalidArgument, "file is not open for writing");
  }
  if (offset < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "negative offset");
  }
  const uint64_t end = static_cast<uint64_t>(offset) + size;
  if (end > kMaxFileBytes) {
    // What was written so far is not what the user meant: never publish it.
    if (file->staged != nullptr) {
      std::lock_guard<std::mutex> op(file->staged->op_mu);
      if (!file->staged->too_large) {
        LOG(WARN) << "write failed with errno 27 (File too large): "
                  << Redacted{file->staged->rec.name}
                  << " would pass Asana's 100 MiB limit; it will not be uploaded";
      }
      file->staged->too_large = true;
      if (file->staged->stream != nullptr) {
        file->staged->stream->Break();
      }
    }
    return MakeError(ErrorCode::kTooLarge,
                     "Asana attachments hold at most 100 MiB (104857600 bytes)");
  }
  for (;;) {
    std::shared_ptr<Staged> s = file->staged;
    if (s == nullptr) {
      ASSIGN_OR_RETURN(s, StageExisting(file->ino, false));
      std::lock_guard<std::mutex> op(s->op_mu);
      s->writers++;
      file->staged = s;
    }
    std::lock_guard<std::mutex> op(s->op_mu);
    if (s->finished) {
      // It landed while this handle stayed open: the next change is a new upload.
      s->writers--;
      file->staged = nullptr;
      continue;
    }
    RETURN_IF_ERROR(WriteStaged(*s, buf, size, offset));
    s->dirty = true;
    file->wrote = true;
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t ino : s->inos) {
      if (Node* node = nodes_.Get(ino)) {
        node->st.st_size = std::max<off_t>(node->st.st_size, static_cast<off_t>(end));
        node->st.st_blocks = (node->st.st_size + 511) / 512;
        node->st.st_mtim = node->st.st_ctim = ToTimespec(clock_.SystemNow());
      }
    }
    // New content, new mtime: a time set earlier by utimens no longer applies.
    if (auto it = overlays_.find(s->Key()); it != overlays_.end() && it->second.mtime_ns) {
      it->second.mtime_ns.reset();
      (void)state_.SetOverlay(s->Key(), it->second);
    }
    return size;
  }
}

Status Vfs::WriteStaged(Staged& s, const char* buf, size_t size, off_t offset) {
  if (!s.stream_decided) {
    s.stream_decided = true;
    bool fresh;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fresh = s.rec.state == model::UploadState::kOpen && !IsTemporaryName(s.rec.name);
    }
    struct stat st;
    // Only a file written from its first byte: rsync's temporary files are
    // renamed after close, so their name is not known yet.
    if (fresh && offset == 0 && options_.stream_upload_min > 0 && streams_supported_ &&
        ::fstat(s.fd.get(), &st) == 0 && st.st_size == 0) {
      s.stream = std::make_unique<UploadStream>(s.fd.get(), options_.stream_idle);
    }
  }
  if (s.stream == nullptr) {
    return WriteAllAt(s.fd.get(), buf, size, offset);
  }
  RETURN_IF_ERROR(s.stream->Write(buf, size, offset));
  if (s.stream->appended() < options_.stream_upload_min || s.stream->started() ||
      s.stream->broken() || streams_running_ >= kMaxStreamingUploads) {
    return OkStatus();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.stream_task = s.rec.task_gid;
    s.stream_name = s.rec.name;
  }
  s.sent = 0;
  s.streaming = true;
  ++streams_running_;
  // The thread ends before `s` goes (Staged::stream is destroyed first).
  s.stream->Start([this, task = s.stream_task, name = s.stream_name,
                   sp = &s](const asana::UploadReader& reader) {
    auto att =
        api_.UploadAttachmentStream(task, name, reader, [sp](uint64_t n) { sp->sent.store(n); });
    sp->streaming = false;
    --streams_running_;
    return att;
  });
  return OkStatus();
}

Result<bool> Vfs::CompleteStream(Staged& s, uint64_t size) {
  std::unique_ptr<UploadStream> stream = std::move(s.stream);
  if (stream == nullptr || !stream->started()) {
    return false;
  }
  bool same;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Renamed or moved while written: the request carries the old name.
    same = s.rec.name == s.stream_name && s.rec.task_gid == s.stream_task;
    s.uploading = same;
  }
  if (!same) {
    return false;  // `stream` goes: its request is aborted unfinished
  }
  auto att = stream->Complete(size);
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.uploading = false;
  }
  if (att.has_value()) {
    RETURN_IF_ERROR(Land(s, *att));
    return true;
  }
  const Error& e = att.error();
  if (stream->body_complete()) {
    // The whole file went out; if the reply was lost, Asana may have it.
    std::lock_guard<std::mutex> lock(mu_);
    s.check_remote = e.code == ErrorCode::kTimeout || e.code == ErrorCode::kUnavailable;
  } else if (e.code == ErrorCode::kInvalidArgument || e.code == ErrorCode::kNotSupported) {
    // A server that will not take a chunked body (411, 400): stop trying.
    if (streams_supported_.exchange(false)) {
      LOG(WARN) << "the server refused an upload sent while its file was written (" << e.message
                << "); files upload at close from now on";
    }
  }
  LOG(INFO) << "upload of " << Redacted{s.rec.name} << " while it was written did not complete ("
            << e.message << "); uploading the staged file";
  return false;
}

Status Vfs::UploadIfDirty(Staged& s) {
  if (s.finished) {
    return OkStatus();
  }
  if (s.too_large) {
    return MakeError(ErrorCode::kTooLarge,
                     "a write past 100 MiB failed earlier: the file is not uploaded");
  }
  model::UploadRecord rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (s.discarded || (!s.dirty && s.rec.state != model::UploadState::kPending)) {
      return OkStatus();
    }
  }
  if (s.dirty) {
    struct stat st;
    if (::fsync(s.fd.get()) != 0 || ::fstat(s.fd.get(), &st) != 0) {
      return SysError("saving the staged file");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      s.rec.size = static_cast<uint64_t>(st.st_size);
      s.rec.staged_at = UnixSeconds(clock_.SystemNow());
      s.rec.state = IsTemporaryName(s.rec.name) ? model::UploadState::kDeferred
                                                : model::UploadState::kPending;
      s.rec.last_error.clear();
      rec = s.rec;
    }
    RETURN_IF_ERROR(state_.UpdateUpload(rec));
    s.dirty = false;
    if (rec.state == model::UploadState::kDeferred) {
      // rsync renames its temporary file right after closing it: upload then.
      s.stream.reset();
      Schedule(rec.id, options_.temp_grace);
      return OkStatus();
    }
    // Only now, with the content saved and journalled as complete, may the
    // request that ran while it was written end its body.
    ASSIGN_OR_RETURN(bool landed, CompleteStream(s, rec.size));
    if (landed) {
      return OkStatus();
    }
  }
  s.stream.reset();
  return UploadNow(s);
}

Status Vfs::UploadNow(Staged& s) {
  model::UploadRecord rec;
  bool check_remote;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.rec.state = model::UploadState::kPending;
    rec = s.rec;
    check_remote = s.check_remote;
  }
  if (check_remote) {
    // An earlier attempt may have reached Asana (crash, timeout): never upload twice.
    auto landed = FindLanded(s);
    if (landed.has_value() && landed->has_value()) {
      LOG(INFO) << "upload of " << Redacted{rec.name} << " had already landed as attachment "
                << (*landed)->gid;
      return Land(s, **landed);
    }
    if (!landed.has_value()) {
      Schedule(rec.id, std::chrono::seconds(5));
      return Unexpected(landed.error());
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.uploading = true;
  }
  s.sent = 0;
  auto att =
      api_.UploadAttachment(rec.task_gid, rec.name, s.path, [&s](uint64_t sent) { s.sent = sent; });
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.uploading = false;
  }
  if (att.has_value()) {
    {
      std::lock_guard<std::mutex> lock(work_mu_);
      attempts_.erase(rec.id);
    }
    return Land(s, *att);
  }
  const Error& e = att.error();
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.rec.last_error = e.message;
    s.check_remote = e.code == ErrorCode::kTimeout || e.code == ErrorCode::kUnavailable;
    rec = s.rec;
  }
  (void)state_.UpdateUpload(rec);
  int attempt;
  {
    std::lock_guard<std::mutex> lock(work_mu_);
    attempt = ++attempts_[rec.id];
  }
  auto delay = std::chrono::seconds(std::min(60, 1 << std::min(attempt - 1, 6)));
  if (e.code == ErrorCode::kTooLarge || e.code == ErrorCode::kNotFound) {
    LOG(WARN) << "upload of " << Redacted{rec.name} << " to parent " << rec.task_gid
              << " refused: " << e.message << "; kept staged in " << s.path;
  } else {
    LOG(WARN) << "upload of " << Redacted{rec.name} << " to parent " << rec.task_gid
              << " failed: " << e.message << "; retrying in " << delay.count() << " s";
    Schedule(rec.id, delay);
  }
  return Unexpected(e);
}

Result<std::optional<asana::Attachment>> Vfs::FindLanded(const Staged& s) {
  model::UploadRecord rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rec = s.rec;
  }
  ASSIGN_OR_RETURN(auto listed, api_.ListAttachments(rec.task_gid));
  std::vector<std::string> replaced = SplitGids(rec.replaces_gid);
  auto earliest =
      std::chrono::system_clock::time_point(std::chrono::seconds(rec.staged_at)) - kLandedSlack;
  std::optional<asana::Attachment> found;
  for (const auto& a : listed) {
    if (a.name == rec.name && a.size.value_or(0) == rec.size && a.created_at &&
        *a.created_at >= earliest &&
        std::find(replaced.begin(), replaced.end(), a.gid) == replaced.end()) {
      found = a;
    }
  }
  return found;
}

Status Vfs::Land(Staged& s, const asana::Attachment& att) {
  model::UploadRecord rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.rec.state = model::UploadState::kUploaded;
    s.rec.uploaded_gid = att.gid;
    s.rec.last_error.clear();
    s.check_remote = false;
    rec = s.rec;
    MoveOverlay(s.Key(), att.gid);
    NoteLocalChangeAbove(nodes_, s.inos);  // a listing from before the upload is stale
  }
  if (auto saved = state_.UpdateUpload(rec); !saved) {
    LOG(WARN) << "journal: " << saved.error().message;
  }
  LOG(DEBUG) << "uploaded " << Redacted{rec.name} << " as attachment " << att.gid;
  if (auto deleted = DeleteReplaced(s); !deleted) {
    LOG(WARN) << "uploaded " << Redacted{rec.name} << " but could not delete the version it "
              << "replaces: " << deleted.error().message << "; retrying in the background";
    Schedule(rec.id, std::chrono::seconds(2));
  }
  Finish(s, att);
  return OkStatus();
}

void Vfs::FinishOpenReaders(const std::string& gid) {
  // Like a deleted file on a local disk, an open attachment stays readable
  // whole after it is deleted or replaced: fetch the rest before deleting it.
  std::shared_ptr<RemoteFile> reader;
  {
    std::lock_guard<std::mutex> lock(remotes_mu_);
    if (auto it = remotes_.find(gid); it != remotes_.end()) {
      reader = it->second.lock();
    }
  }
  if (reader != nullptr && !reader->complete()) {
    ReadAhead whole;
    if (auto fetched = reader->EnsureRange(0, reader->size(), whole); !fetched) {
      LOG(WARN) << "attachment " << gid << " is open but could not be fetched before its "
                << "deletion: " << fetched.error().message;
    }
  }
}

Status Vfs::DeleteReplaced(Staged& s) {
  std::vector<std::string> gids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gids = SplitGids(s.rec.replaces_gid);
  }
  std::vector<std::string> remaining;
  std::vector<std::string> gone;
  Status last;
  for (const auto& gid : gids) {
    FinishOpenReaders(gid);
    Status deleted = api_.DeleteAttachment(gid);
    if (!deleted && deleted.error().code != ErrorCode::kNotFound) {
      remaining.push_back(gid);
      last = deleted;
    } else {
      gone.push_back(gid);
    }
  }
  model::UploadRecord rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Attributes set on a deleted version (a rename's target, a chmod that
    // arrived while the new version was on the wire) go with it.
    for (const auto& gid : gone) {
      if (overlays_.erase(gid) != 0) {
        (void)state_.RemoveOverlay(gid);
      }
    }
    s.rec.replaces_gid = JoinGids(remaining);
    rec = s.rec;
    NoteLocalChangeAbove(nodes_, s.inos);  // the replaced versions are no longer hidden
    // A listing on the wire may predate the deletion, also one of another
    // directory (a moved file's old task): it must not bring the old version back.
    for (const auto& [dir, pending] : listing_in_flight_) {
      NoteLocalChange(nodes_, dir);
    }
  }
  (void)state_.UpdateUpload(rec);
  return last;
}

void Vfs::Finish(Staged& s, const asana::Attachment& att) {
  if (!s.finished) {
    // The bytes just uploaded become the cache entry of the new gid: no re-download.
    if (auto adopted = cache_.AdoptFile(att.gid, s.path); !adopted) {
      // ENOENT: a record recovered after a crash whose file this step had
      // already adopted (and unlinked) before it: nothing is lost.
      if (adopted.error().sys_errno != ENOENT) {
        LOG(WARN) << "cannot keep the uploaded bytes in the cache: " << adopted.error().message;
      }
    }
    ::unlink(s.path.c_str());
    s.finished = true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (uint64_t ino : s.inos) {
    Node* node = nodes_.Get(ino);
    if (node == nullptr || node->staged_id != s.rec.id) {
      continue;
    }
    NoteLocalChange(nodes_, node->parent);
    node->staged_id = 0;
    nodes_.Rekey(ino, node->parent, att.gid);
    node->raw_name = s.rec.name;
    node->uploaded_here = true;
    node->host = "asana";
    node->created_at = att.created_at;
    node->url = att.view_url;
    node->st.st_size = static_cast<off_t>(att.size.value_or(s.rec.size));
    node->st.st_blocks = (node->st.st_size + 511) / 512;
    if (att.created_at) {
      SetTimes(&node->st, *att.created_at);
    }
    ApplyOverlay(node);
  }
  s.inos.clear();
  if (s.rec.replaces_gid.empty()) {
    (void)state_.RemoveUpload(s.rec.id);
    staged_.erase(s.rec.id);
  }
}

void Vfs::Discard(Staged& s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.discarded = true;
    staged_.erase(s.rec.id);
    overlays_.erase(s.Key());
    for (uint64_t ino : s.inos) {
      // No node may name a staged file that is gone (lookups use staged_.at).
      if (Node* node = nodes_.Get(ino); node != nullptr && node->staged_id == s.rec.id) {
        node->staged_id = 0;
      }
    }
  }
  (void)state_.RemoveOverlay(s.Key());
  (void)state_.RemoveUpload(s.rec.id);
  ::unlink(s.path.c_str());
  s.finished = true;
  s.stream.reset();
}

Status Vfs::Flush(uint64_t fh, pid_t pid) {
  std::shared_ptr<OpenFile> file = FindFile(fh);
  // Only the opener's close uploads, and only after it wrote: a shell's
  // `cmd > f` closes its first descriptor (after dup2) before anything is
  // written. Files closed unwritten (touch, `> f`) upload at the last release.
  if (file == nullptr || !file->writable || file->staged == nullptr || file->open_pid != pid ||
      !file->wrote) {
    return OkStatus();
  }
  std::lock_guard<std::mutex> op(file->staged->op_mu);
  return UploadIfDirty(*file->staged);
}

Status Vfs::Fsync(uint64_t fh) {
  std::shared_ptr<OpenFile> file = FindFile(fh);
  if (file == nullptr || !file->writable || file->staged == nullptr) {
    return OkStatus();
  }
  std::lock_guard<std::mutex> op(file->staged->op_mu);
  return UploadIfDirty(*file->staged);
}

void Vfs::Release(uint64_t fh) {
  std::shared_ptr<OpenFile> file;
  {
    std::lock_guard<std::mutex> lock(handles_mu_);
    auto it = files_.find(fh);
    if (it == files_.end()) {
      return;
    }
    file = std::move(it->second);
    files_.erase(it);
  }
  if (!file->writable || file->staged == nullptr) {
    return;
  }
  Staged& s = *file->staged;
  std::lock_guard<std::mutex> op(s.op_mu);
  s.writers--;
  if (s.writers == 0 && s.too_large && !s.finished) {
    // Roll back: the new file disappears, an overwritten one shows its old
    // version again (it was never deleted).
    LOG(INFO) << "dropping " << Redacted{s.rec.name} << ": a write past 100 MiB failed";
    std::vector<uint64_t> inos;
    {
      std::lock_guard<std::mutex> lock(mu_);
      inos = s.inos;
    }
    Discard(s);
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t ino : inos) {
      Node* node = nodes_.Get(ino);
      Node* dir = node != nullptr ? nodes_.Get(node->parent) : nullptr;
      if (dir != nullptr) {
        if (auto it = dir->children.find(node->name);
            it != dir->children.end() && it->second == ino) {
          dir->children.erase(it);
        }
        dir->local_changes++;
        dir->listed = false;  // the next access lists it again
      }
    }
    return;
  }
  if (s.writers == 0 && s.dirty) {
    // Nobody can report an error from here; the worker keeps retrying.
    (void)UploadIfDirty(s);
  }
}

Status Vfs::Unlink(uint64_t parent, std::string_view name) {
  RETURN_IF_ERROR(CheckWritable());
  if (parent == NodeTable::kRootIno && name == ".asanafs-status") {
    return MakeError(ErrorCode::kNotPermitted, ".asanafs-status cannot be removed");
  }
  RETURN_IF_ERROR(EnsureListed(parent));
  uint64_t ino;
  std::string gid;
  std::shared_ptr<Staged> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* dir = nodes_.Get(parent);
    auto it = dir->children.find(std::string(name));
    if (it == dir->children.end()) {
      return MakeError(ErrorCode::kNotFound, "no such name");
    }
    ino = it->second;
    Node* node = nodes_.Get(ino);
    if (IsDirectory(node->kind)) {
      return MakeError(ErrorCode::kIsDirectory, "is a directory");
    }
    if (node->kind == NodeKind::kStatus) {
      return MakeError(ErrorCode::kNotPermitted, ".asanafs-status cannot be removed");
    }
    gid = node->gid;
    if (node->staged_id != 0) {
      s = staged_.at(node->staged_id);
    }
  }
  if (s != nullptr) {
    std::lock_guard<std::mutex> op(s->op_mu);
    // What the staged file was replacing goes too: the user removed the file.
    RETURN_IF_ERROR(DeleteReplaced(*s));
    if (!s->finished) {
      Discard(*s);
    } else {
      // Its upload landed since the lookup (Finish re-keyed the node): the
      // attachment now in Asana is what the user removes.
      std::lock_guard<std::mutex> lock(mu_);
      gid = nodes_.Get(ino)->gid;
      s = nullptr;
    }
  }
  if (s == nullptr) {
    FinishOpenReaders(gid);
    Status deleted = api_.DeleteAttachment(gid);
    if (!deleted && deleted.error().code != ErrorCode::kNotFound) {
      return deleted;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  Node* dir = nodes_.Get(parent);
  if (auto it = dir->children.find(std::string(name));
      it != dir->children.end() && it->second == ino) {
    dir->children.erase(it);
  }
  dir->local_changes++;  // a listing from before the deletion is stale
  overlays_.erase(gid);
  (void)state_.RemoveOverlay(gid);
  DropIfUnused(ino);  // usually later, at the kernel's forget
  return OkStatus();
}

Status Vfs::Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                   std::string_view new_name, unsigned flags) {
  RETURN_IF_ERROR(CheckWritable());
  if ((parent == NodeTable::kRootIno && name == ".asanafs-status") ||
      (new_parent == NodeTable::kRootIno && new_name == ".asanafs-status")) {
    return MakeError(ErrorCode::kNotPermitted, ".asanafs-status cannot be renamed or replaced");
  }
  if ((flags & kRenameExchange) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "RENAME_EXCHANGE is not supported");
  }
  RETURN_IF_ERROR(EnsureListed(parent));
  RETURN_IF_ERROR(EnsureListed(new_parent));
  uint64_t ino;
  std::string src_gid;
  std::string dst_task;
  uint64_t size;
  std::shared_ptr<Staged> s;
  std::shared_ptr<Staged> target_staged;
  std::string target_gid;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* src_dir = nodes_.Get(parent);
    Node* dst_dir = nodes_.Get(new_parent);
    auto it = src_dir->children.find(std::string(name));
    if (it == src_dir->children.end()) {
      return MakeError(ErrorCode::kNotFound, "no such name");
    }
    ino = it->second;
    Node* node = nodes_.Get(ino);
    if (IsDirectory(node->kind)) {
      return MakeError(ErrorCode::kNotPermitted, "renaming tasks and projects is not supported");
    }
    if (node->kind == NodeKind::kLink || node->kind == NodeKind::kStatus) {
      return MakeError(ErrorCode::kNotPermitted,
                       "links to files hosted outside Asana and .asanafs-status cannot be moved");
    }
    if (dst_dir->kind != NodeKind::kTask && dst_dir->kind != NodeKind::kProject) {
      return MakeError(ErrorCode::kNotPermitted,
                       "files can live only in task and project directories");
    }
    if (auto t = dst_dir->children.find(std::string(new_name)); t != dst_dir->children.end()) {
      if (t->second == ino) {
        return OkStatus();
      }
      Node* target = nodes_.Get(t->second);
      if (IsDirectory(target->kind)) {
        return MakeError(ErrorCode::kIsDirectory, "the target is a directory");
      }
      if ((flags & kRenameNoReplace) != 0) {
        return MakeError(ErrorCode::kExists, "the target exists");
      }
      if (target->staged_id != 0) {
        target_staged = staged_.at(target->staged_id);
      } else {
        target_gid = target->gid;
      }
    }
    src_gid = node->gid;
    dst_task = dst_dir->gid;
    size = static_cast<uint64_t>(node->st.st_size);
    if (node->staged_id != 0) {
      s = staged_.at(node->staged_id);
    }
  }

  // Moves node `ino` to its new place in the tree (mu_ held).
  auto move_node = [&](const std::string& key) {
    Node* node = nodes_.Get(ino);
    Node* src_dir = nodes_.Get(parent);
    Node* dst_dir = nodes_.Get(new_parent);
    if (auto it = src_dir->children.find(std::string(name));
        it != src_dir->children.end() && it->second == ino) {
      src_dir->children.erase(it);
    }
    uint64_t& slot = dst_dir->children[std::string(new_name)];
    const uint64_t displaced = slot;
    slot = ino;
    src_dir->local_changes++;
    dst_dir->local_changes++;
    nodes_.Rekey(ino, new_parent, key);
    node->name = node->raw_name = std::string(new_name);
    if (displaced != 0 && displaced != ino) {
      // The replaced target, or a node a listing made for the new attachment
      // while its upload was on the wire: kept only while the kernel knows it.
      DropIfUnused(displaced);
    }
  };
  // The replaced target's own pending upload is dropped; what it replaced goes too.
  std::vector<std::string> extra_replaced;
  if (target_gid.size() > 0) {
    extra_replaced.push_back(target_gid);
  }
  std::unique_lock<std::mutex> target_op;
  if (target_staged != nullptr) {
    target_op = std::unique_lock<std::mutex>(target_staged->op_mu);
  }
  std::unique_lock<std::mutex> source_op;
  if (s != nullptr) {
    source_op = std::unique_lock<std::mutex>(s->op_mu);
  }
  if ((s != nullptr && s->finished) || (target_staged != nullptr && target_staged->finished)) {
    // An upload landed (Finish re-keyed its node to the attachment) or a file
    // was removed since the lookup above, e.g. an empty file uploaded at its
    // last release: start over with what the names stand for now.
    source_op = {};
    target_op = {};
    return Rename(parent, name, new_parent, new_name, flags);
  }

  if (s != nullptr) {
    model::UploadRecord rec;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rec = s->rec;
    }
    std::vector<std::string> replaced = SplitGids(rec.replaces_gid);
    replaced.insert(replaced.end(), extra_replaced.begin(), extra_replaced.end());
    if (target_staged != nullptr && !target_staged->finished) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& g : SplitGids(target_staged->rec.replaces_gid)) {
        replaced.push_back(g);
      }
    }
    std::optional<asana::Attachment> landed;
    if (rec.state == model::UploadState::kDeferred) {
      // rsync's temporary file reached its final name: this is its one upload.
      // If it fails, rename() reports it and nothing changes.
      auto att = api_.UploadAttachment(dst_task, std::string(new_name), s->path);
      if (!att.has_value() && (att.error().code == ErrorCode::kTimeout ||
                               att.error().code == ErrorCode::kUnavailable)) {
        // The upload may have landed and only its reply been lost: look before failing the
        // rename, or rsync sends the file again and the task holds it twice.
        if (auto listed = api_.ListAttachments(dst_task); listed.has_value()) {
          const auto earliest =
              std::chrono::system_clock::time_point(std::chrono::seconds(rec.staged_at)) -
              kLandedSlack;
          for (const auto& a : *listed) {
            if (a.name == new_name && a.size.value_or(0) == rec.size && a.created_at &&
                *a.created_at >= earliest &&
                std::find(replaced.begin(), replaced.end(), a.gid) == replaced.end()) {
              LOG(INFO) << "upload of " << Redacted{new_name}
                        << " had already landed as attachment " << a.gid;
              att = a;
            }
          }
        }
      }
      if (!att.has_value()) {
        LOG(WARN) << "upload of " << Redacted{new_name} << " to parent " << dst_task
                  << " failed: " << att.error().message << "; the rename did not happen";
        return Unexpected(att.error());
      }
      landed = *att;
    }
    if (target_staged != nullptr && !target_staged->finished) {
      Discard(*target_staged);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      s->rec.task_gid = dst_task;
      s->rec.name = std::string(new_name);
      s->rec.replaces_gid = JoinGids(replaced);
      move_node(s->Key());
      rec = s->rec;
    }
    RETURN_IF_ERROR(state_.UpdateUpload(rec));
    if (landed) {
      return Land(*s, *landed);
    }
    return OkStatus();
  }

  // A file already in Asana: upload it under the new name, then delete the old.
  UniqueFd content;
  if (size > 0) {
    ASSIGN_OR_RETURN(content, FetchContent(src_gid, size));
  }
  model::UploadRecord rec;
  rec.task_gid = dst_task;
  rec.name = std::string(new_name);
  std::vector<std::string> replaced{src_gid};
  if (target_staged != nullptr && !target_staged->finished) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& g : SplitGids(target_staged->rec.replaces_gid)) {
      replaced.push_back(g);
    }
  }
  replaced.insert(replaced.end(), extra_replaced.begin(), extra_replaced.end());
  rec.replaces_gid = JoinGids(replaced);
  ASSIGN_OR_RETURN(auto moved, NewStaged(rec, content.valid() ? content.get() : -1, size));
  std::lock_guard<std::mutex> op(moved->op_mu);
  moved->rec.state = model::UploadState::kPending;
  moved->rec.size = size;
  RETURN_IF_ERROR(state_.UpdateUpload(moved->rec));
  auto att = api_.UploadAttachment(rec.task_gid, rec.name, moved->path);
  if (!att.has_value()) {
    Discard(*moved);  // nothing changed in Asana: the rename simply did not happen
    return Unexpected(att.error());
  }
  if (target_staged != nullptr && !target_staged->finished) {
    Discard(*target_staged);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    staged_[moved->rec.id] = moved;
    moved->inos.push_back(ino);
    nodes_.Get(ino)->staged_id = moved->rec.id;
    move_node(moved->Key());
    MoveOverlay(src_gid, moved->Key());
  }
  return Land(*moved, *att);
}

Result<Entry> Vfs::Mkdir(uint64_t parent, std::string_view name, mode_t mode) {
  (void)mode;
  RETURN_IF_ERROR(CheckWritable());
  RETURN_IF_ERROR(EnsureListed(parent));
  NodeKind kind;
  std::string gid;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Node* dir = nodes_.Get(parent);
    if (dir->children.count(std::string(name)) != 0) {
      return MakeError(ErrorCode::kExists, "name exists");
    }
    kind = dir->kind;
    gid = dir->gid;
  }
  Result<asana::Task> task = MakeError(ErrorCode::kInternal, "unset");
  if (kind == NodeKind::kProject && options_.sections) {
    // The project directory lists sections; a task made here would land in
    // a section Asana picks, and creating sections is not supported.
    return MakeError(ErrorCode::kNotPermitted,
                     "with -o sections, a project directory holds sections: asanafs does not "
                     "create sections or tasks there");
  } else if (kind == NodeKind::kSection) {
    return MakeError(ErrorCode::kNotPermitted,
                     "asanafs does not create tasks in a section directory; make the task in "
                     "Asana or mount without -o sections");
  } else if (kind == NodeKind::kProject) {
    task = api_.CreateTask(gid, std::string(name));
  } else if (kind == NodeKind::kTask) {
    task = api_.CreateSubtask(gid, std::string(name));
  } else {
    return MakeError(ErrorCode::kNotPermitted,
                     "directories can be made only in a project (a task) or a task (a subtask)");
  }
  if (!task.has_value()) {
    return Unexpected(task.error());
  }
  std::lock_guard<std::mutex> lock(mu_);
  Node* dir = nodes_.Get(parent);
  Node* node = nodes_.Intern(parent, task->gid, NodeKind::kTask);
  node->name = node->raw_name = std::string(name);
  node->st = {};
  node->st.st_ino = node->ino;
  node->st.st_mode = DefaultDirMode(options_);
  node->st.st_nlink = 2;
  node->st.st_uid = options_.uid;
  node->st.st_gid = options_.gid;
  SetTimes(&node->st, task->modified_at.value_or(clock_.SystemNow()));
  // A new task has no attachments or subtasks: no need to ask.
  node->listed = true;
  node->listed_at = clock_.SteadyNow();
  dir->children[node->name] = node->ino;
  dir->local_changes++;
  node->nlookup++;
  return MakeEntry(*node);
}

Status Vfs::Rmdir(uint64_t parent, std::string_view name) {
  RETURN_IF_ERROR(CheckWritable());
  RETURN_IF_ERROR(EnsureListed(parent));
  std::lock_guard<std::mutex> lock(mu_);
  Node* dir = nodes_.Get(parent);
  auto it = dir->children.find(std::string(name));
  if (it == dir->children.end()) {
    return MakeError(ErrorCode::kNotFound, "no such name");
  }
  if (!IsDirectory(nodes_.Get(it->second)->kind)) {
    return MakeError(ErrorCode::kNotDirectory, "not a directory");
  }
  return MakeError(ErrorCode::kNotPermitted,
                   "asanafs does not delete tasks (a task holds more than files); "
                   "delete it in Asana");
}

Result<struct stat> Vfs::SetAttr(uint64_t ino, const SetAttrRequest& req) {
  RETURN_IF_ERROR(CheckWritable());
  if (req.size) {
    if (*req.size < 0) {
      return MakeError(ErrorCode::kInvalidArgument, "negative size");
    }
    if (static_cast<uint64_t>(*req.size) > kMaxFileBytes) {
      return MakeError(ErrorCode::kTooLarge, "Asana attachments hold at most 100 MiB");
    }
    bool unchanged;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Node* node = nodes_.Get(ino);
      if (node == nullptr) {
        return MakeError(ErrorCode::kNotFound, "unknown inode");
      }
      if (IsDirectory(node->kind)) {
        return MakeError(ErrorCode::kIsDirectory, "is a directory");
      }
      if (node->kind == NodeKind::kLink || node->kind == NodeKind::kStatus) {
        return MakeError(ErrorCode::kNotPermitted, "this file cannot be written");
      }
      unchanged = node->staged_id == 0 && node->st.st_size == *req.size;
    }
    while (!unchanged) {
      ASSIGN_OR_RETURN(auto s, StageExisting(ino, *req.size == 0));
      std::lock_guard<std::mutex> op(s->op_mu);
      if (s->finished) {
        // It landed meanwhile: its file is now the new version's cache entry,
        // never to be changed. Stage the landed version (as Write does).
        continue;
      }
      if (s->stream != nullptr && s->stream->appended() != static_cast<uint64_t>(*req.size)) {
        s->stream->Break();  // what it sent is no longer the file's start
      }
      if (::ftruncate(s->fd.get(), *req.size) != 0) {
        return SysError("truncating the staged file");
      }
      s->dirty = true;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (uint64_t i : s->inos) {
          if (Node* n = nodes_.Get(i)) {
            n->st.st_size = *req.size;
          }
        }
      }
      if (s->writers == 0) {
        RETURN_IF_ERROR(UploadIfDirty(*s));
      }
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  Node* node = nodes_.Get(ino);
  if (node == nullptr) {
    return MakeError(ErrorCode::kNotFound, "unknown inode");
  }
  if (req.mode || req.uid || req.gid || req.atime || req.mtime) {
    model::Overlay o = overlays_[node->gid];
    if (req.mode) {
      o.mode = *req.mode & 07777;
    }
    if (req.uid) {
      o.uid = *req.uid;
    }
    if (req.gid) {
      o.gid = *req.gid;
    }
    if (req.atime) {
      o.atime_ns = ToNs(*req.atime);
    }
    if (req.mtime) {
      o.mtime_ns = ToNs(*req.mtime);
    }
    RETURN_IF_ERROR(SetOverlayFor(node->gid, o));
    ApplyOverlay(node);
  }
  return node->st;
}

void Vfs::RecoverJournal() {
  auto records = state_.ListUploads();
  if (!records.has_value()) {
    LOG(ERROR) << "cannot read the upload journal: " << records.error().message;
    return;
  }
  for (const auto& rec : *records) {
    std::string path = options_.staging_dir + "/" + std::to_string(rec.id);
    struct stat st;
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (rec.state == model::UploadState::kOpen) {
      // It was still being written: its content may be partial, so it is
      // never published. Keep the bytes for the user.
      if (exists) {
        ::mkdir(options_.recovered_dir.c_str(), 0700);
        std::string kept = options_.recovered_dir + "/" + std::to_string(rec.id) + "-" +
                           model::SanitizeComponent(rec.name);
        if (::rename(path.c_str(), kept.c_str()) == 0) {
          LOG(WARN) << "file " << Redacted{rec.name} << " was still being written when asanafs "
                    << "stopped; not uploaded, kept at " << kept;
        }
      }
      (void)state_.RemoveUpload(rec.id);
      continue;
    }
    if (!exists && rec.state != model::UploadState::kUploaded) {
      LOG(ERROR) << "staged file " << path << " for " << Redacted{rec.name}
                 << " is missing; dropping its journal entry";
      (void)state_.RemoveUpload(rec.id);
      continue;
    }
    auto s = std::make_shared<Staged>();
    s->rec = rec;
    s->path = path;
    s->fd.Reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    s->check_remote = rec.state == model::UploadState::kPending;
    staged_[rec.id] = s;
    LOG(INFO) << "resuming upload of " << Redacted{rec.name} << " to parent " << rec.task_gid;
    Schedule(rec.id, std::chrono::milliseconds(0));
  }
}

void Vfs::Schedule(int64_t id, std::chrono::milliseconds delay) {
  {
    std::lock_guard<std::mutex> lock(work_mu_);
    due_[id] = clock_.SteadyNow() + delay;
  }
  work_cv_.notify_all();
}

void Vfs::ProcessStaged(const std::shared_ptr<Staged>& sp) {
  Staged& s = *sp;
  std::lock_guard<std::mutex> op(s.op_mu);
  model::UploadRecord rec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (s.discarded) {
      return;
    }
    rec = s.rec;
  }
  // A landed file whose old version could not be deleted yet (Land scheduled
  // this retry) is finished but not done: that deletion is what is left.
  if (s.finished && (rec.state != model::UploadState::kUploaded || rec.replaces_gid.empty())) {
    return;
  }
  switch (rec.state) {
    case model::UploadState::kOpen:
      return;  // a writer still has it open; its close uploads it
    case model::UploadState::kDeferred: {
      auto ready = std::chrono::system_clock::time_point(std::chrono::seconds(rec.staged_at)) +
                   options_.temp_grace;
      auto now = clock_.SystemNow();
      if (now < ready) {
        Schedule(rec.id, std::chrono::duration_cast<std::chrono::milliseconds>(ready - now));
        return;
      }
      LOG(INFO) << "temporary file " << Redacted{rec.name}
                << " was never renamed; uploading it under that name";
      (void)UploadNow(s);
      return;
    }
    case model::UploadState::kPending:
      (void)UploadNow(s);
      return;
    case model::UploadState::kUploaded: {
      if (DeleteReplaced(s).has_value()) {
        asana::Attachment att;
        att.gid = rec.uploaded_gid;
        att.size = rec.size;
        Finish(s, att);
      } else {
        Schedule(rec.id, std::chrono::seconds(10));
      }
      return;
    }
  }
}

void Vfs::RunWorkerOnce() {
  std::vector<int64_t> ready;
  {
    std::lock_guard<std::mutex> lock(work_mu_);
    SteadyTime now = clock_.SteadyNow();
    for (auto it = due_.begin(); it != due_.end();) {
      if (it->second <= now) {
        ready.push_back(it->first);
        it = due_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (int64_t id : ready) {
    std::shared_ptr<Staged> s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = staged_.find(id); it != staged_.end()) {
        s = it->second;
      }
    }
    if (s != nullptr) {
      ProcessStaged(s);
    }
  }
}

void Vfs::StartWorker() {
  if (!worker_.joinable()) {
    worker_ = std::thread([this] { WorkerLoop(); });
  }
  if (!events_thread_.joinable() && options_.poll_interval.count() > 0) {
    events_thread_ = std::thread([this] { EventLoop(); });
  }
}

void Vfs::WorkerLoop() {
  std::unique_lock<std::mutex> lock(work_mu_);
  while (!stopping_) {
    if (due_.empty()) {
      work_cv_.wait(lock);
      continue;
    }
    SteadyTime next = SteadyTime::max();
    for (const auto& [id, when] : due_) {
      next = std::min(next, when);
    }
    SteadyTime now = clock_.SteadyNow();
    if (next > now) {
      work_cv_.wait_for(lock, next - now);
      continue;
    }
    lock.unlock();
    RunWorkerOnce();
    lock.lock();
  }
}

BookkeepingStats Vfs::GetBookkeepingStats() {
  BookkeepingStats stats;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats.nodes = nodes_.size();
    stats.overlays = overlays_.size();
  }
  {
    std::lock_guard<std::mutex> lock(download_mu_);
    stats.downloads = downloads_.size();
  }
  std::lock_guard<std::mutex> lock(remotes_mu_);
  stats.remotes = remotes_.size();
  return stats;
}

UploadStats Vfs::GetUploadStats() {
  std::lock_guard<std::mutex> lock(mu_);
  UploadStats stats;
  for (const auto& [id, s] : staged_) {
    if (s->rec.state != model::UploadState::kUploaded) {
      stats.staged++;
      if (!s->rec.last_error.empty()) {
        stats.failed++;
      }
    }
  }
  return stats;
}

}  // namespace asanafs::vfs
