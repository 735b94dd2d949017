#include "asanafs/model/content_cache.h"

#include <algorithm>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "asanafs/util/log.h"

namespace asanafs::model {
namespace {

constexpr char kLockName[] = "lock";
constexpr char kContentDir[] = "content";
constexpr char kTmpDir[] = "tmp";

// Builds a kIo error for a failed OS call; reads errno, so call it right after.
Error IoError(const std::string& what, int err = errno) {
  Error e = MakeError(ErrorCode::kIo, "content cache: " + what + ": " + std::strerror(err));
  e.sys_errno = err;
  return e;
}

// mkdir -p with mode 0700 for every directory it creates.
Status MakeDirs(const std::string& path) {
  if (path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "content cache: empty cache dir");
  }
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    if (prefix.empty()) {
      continue;
    }
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return IoError("mkdir " + prefix);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return IoError("stat " + path);
  }
  if (!S_ISDIR(st.st_mode)) {
    return IoError("cache dir " + path + " is not a directory", ENOTDIR);
  }
  return OkStatus();
}

Result<UniqueFd> OpenSubdir(int parent_fd, const std::string& parent, const char* name) {
  if (::mkdirat(parent_fd, name, 0700) != 0 && errno != EEXIST) {
    return IoError("mkdir " + parent + "/" + name);
  }
  int fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return IoError("open " + parent + "/" + name);
  }
  return UniqueFd(fd);
}

// Calls fn(name) for every entry of the directory `dir_fd` except . and ..
template <typename Fn>
Status ForEachEntry(int dir_fd, const std::string& what, Fn fn) {
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return IoError("open " + what);
  }
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    Error e = IoError("fdopendir " + what);
    ::close(fd);
    return e;
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* ent = ::readdir(d)) {
    std::string_view n = ent->d_name;
    if (n != "." && n != "..") {
      names.emplace_back(n);
    }
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) {
    return IoError("readdir " + what, err);
  }
  for (const auto& n : names) {
    fn(n);
  }
  return OkStatus();
}

// Writes our pid into the lock file so that a kBusy message can name the holder.
void RecordPid(int fd) {
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    LOG(DEBUG) << "content cache: cannot record pid in lock file: " << std::strerror(errno);
  }
}

std::string ReadHolderPid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

}  // namespace

bool IsValidGid(std::string_view gid) {
  if (gid.empty() || gid.size() > 30) {
    return false;
  }
  for (char c : gid) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

// ---- Fill ----------------------------------------------------------------

Fill::Fill(int tmp_dir_fd, std::string gid, std::string tmp_name, UniqueFd fd)
    : tmp_dir_fd_(tmp_dir_fd),
      gid_(std::move(gid)),
      tmp_name_(std::move(tmp_name)),
      fd_(std::move(fd)) {}

Fill::Fill(Fill&& other) noexcept
    : tmp_dir_fd_(other.tmp_dir_fd_),
      gid_(std::move(other.gid_)),
      tmp_name_(std::exchange(other.tmp_name_, std::string())),
      fd_(std::move(other.fd_)) {}

Fill& Fill::operator=(Fill&& other) noexcept {
  if (this != &other) {
    Discard();
    tmp_dir_fd_ = other.tmp_dir_fd_;
    gid_ = std::move(other.gid_);
    tmp_name_ = std::exchange(other.tmp_name_, std::string());
    fd_ = std::move(other.fd_);
  }
  return *this;
}

Fill::~Fill() { Discard(); }

void Fill::Discard() {
  fd_.Reset();
  if (!tmp_name_.empty()) {
    if (::unlinkat(tmp_dir_fd_, tmp_name_.c_str(), 0) != 0 && errno != ENOENT) {
      LOG(WARN) << "content cache: cannot remove temp file " << tmp_name_ << ": "
                << std::strerror(errno);
    }
    tmp_name_.clear();
  }
}

// ---- ContentCache --------------------------------------------------------

ContentCache::ContentCache(std::string dir, UniqueFd lock_fd, UniqueFd content_dir_fd,
                           UniqueFd tmp_dir_fd)
    : dir_(std::move(dir)),
      lock_fd_(std::move(lock_fd)),
      content_dir_fd_(std::move(content_dir_fd)),
      tmp_dir_fd_(std::move(tmp_dir_fd)) {}

ContentCache::~ContentCache() = default;

Result<std::unique_ptr<ContentCache>> ContentCache::Open(const std::string& dir) {
  RETURN_IF_ERROR(MakeDirs(dir));
  int raw = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (raw < 0) {
    return IoError("open " + dir);
  }
  UniqueFd dir_fd(raw);

  raw = ::openat(dir_fd.get(), kLockName, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (raw < 0) {
    return IoError("open " + dir + "/" + kLockName);
  }
  UniqueFd lock_fd(raw);
  if (::flock(lock_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      const std::string holder = ReadHolderPid(lock_fd.get());
      return MakeError(ErrorCode::kBusy,
                       "cache dir " + dir + " is in use by another asanafs process" +
                           (holder.empty() ? "" : " (pid " + holder + ")") +
                           "; use a different cache_dir or unmount the other mount");
    }
    return IoError("flock " + dir + "/" + kLockName);
  }
  RecordPid(lock_fd.get());

  ASSIGN_OR_RETURN(UniqueFd content_fd, OpenSubdir(dir_fd.get(), dir, kContentDir));
  ASSIGN_OR_RETURN(UniqueFd tmp_fd, OpenSubdir(dir_fd.get(), dir, kTmpDir));

  // We hold the lock, so everything in tmp/ is a leftover of a crashed process.
  const int tmp_raw = tmp_fd.get();
  RETURN_IF_ERROR(ForEachEntry(tmp_raw, dir + "/tmp", [&](const std::string& name) {
    if (::unlinkat(tmp_raw, name.c_str(), 0) != 0 && errno != ENOENT) {
      LOG(WARN) << "content cache: cannot remove leftover " << dir << "/tmp/" << name << ": "
                << std::strerror(errno);
    } else {
      LOG(DEBUG) << "content cache: removed leftover temp file " << name;
    }
  }));

  uint64_t used = 0;
  const int content_raw = content_fd.get();
  RETURN_IF_ERROR(ForEachEntry(content_raw, dir + "/content", [&](const std::string& name) {
    struct stat st;
    if (IsValidGid(name) && ::fstatat(content_raw, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode)) {
      used += static_cast<uint64_t>(st.st_size);
    }
  }));

  std::unique_ptr<ContentCache> cache(
      new ContentCache(dir, std::move(lock_fd), std::move(content_fd), std::move(tmp_fd)));
  cache->used_bytes_.store(used);
  return cache;
}

std::optional<UniqueFd> ContentCache::OpenCached(const std::string& gid, uint64_t expected_size) {
  if (!IsValidGid(gid)) {
    return std::nullopt;
  }
  int raw = ::openat(content_dir_fd_.get(), gid.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (raw < 0) {
    if (errno != ENOENT) {
      LOG(WARN) << "content cache: open content/" << gid << ": " << std::strerror(errno);
    }
    return std::nullopt;
  }
  UniqueFd fd(raw);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    LOG(WARN) << "content cache: fstat content/" << gid << ": " << std::strerror(errno);
    return std::nullopt;
  }
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == expected_size) {
    // The mtime records the last use, for least-recently-used eviction.
    ::futimens(fd.get(), nullptr);
    return fd;
  }
  LOG(INFO) << "content cache: discarding content/" << gid << " (" << st.st_size
            << " bytes, expected " << expected_size << ")";
  std::lock_guard<std::mutex> lock(publish_mu_);
  // Only delete the file we looked at: a commit may have replaced it meanwhile.
  struct stat now;
  if (::fstatat(content_dir_fd_.get(), gid.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
      now.st_ino == st.st_ino && now.st_dev == st.st_dev) {
    if (::unlinkat(content_dir_fd_.get(), gid.c_str(), 0) == 0) {
      if (S_ISREG(st.st_mode)) {
        used_bytes_.fetch_sub(static_cast<uint64_t>(st.st_size));
      }
    } else {
      LOG(WARN) << "content cache: cannot remove content/" << gid << ": " << std::strerror(errno);
    }
  }
  return std::nullopt;
}

Result<Fill> ContentCache::BeginFill(const std::string& gid) {
  if (!IsValidGid(gid)) {
    return MakeError(ErrorCode::kInvalidArgument, "content cache: invalid attachment gid");
  }
  // pid + counter is unique among live fills: only this process uses the dir.
  const std::string name = gid + "." + std::to_string(::getpid()) + "." +
                           std::to_string(tmp_counter_.fetch_add(1)) + ".part";
  int raw = ::openat(tmp_dir_fd_.get(), name.c_str(),
                     O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (raw < 0) {
    return IoError("create " + dir_ + "/tmp/" + name);
  }
  return Fill(tmp_dir_fd_.get(), gid, name, UniqueFd(raw));
}

Result<UniqueFd> ContentCache::CommitFill(Fill fill) {
  if (fill.tmp_name_.empty() || !fill.fd_.valid()) {
    return MakeError(ErrorCode::kInvalidArgument, "content cache: commit of an empty fill");
  }
  const std::string& gid = fill.gid_;
  // Data must be durable before the name is, or a crash could leave a
  // complete-looking file with missing blocks.
  if (::fsync(fill.fd_.get()) != 0) {
    return IoError("fsync temp file for " + gid);
  }
  struct stat st;
  if (::fstat(fill.fd_.get(), &st) != 0) {
    return IoError("fstat temp file for " + gid);
  }
  // A separate read-only open file description: the caller gets no write
  // access to published content.
  int raw = ::openat(tmp_dir_fd_.get(), fill.tmp_name_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (raw < 0) {
    return IoError("reopen temp file for " + gid);
  }
  UniqueFd read_fd(raw);
  {
    std::lock_guard<std::mutex> lock(publish_mu_);
    struct stat old;
    const bool replacing =
        ::fstatat(content_dir_fd_.get(), gid.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0;
    if (::renameat(tmp_dir_fd_.get(), fill.tmp_name_.c_str(), content_dir_fd_.get(), gid.c_str()) !=
        0) {
      return IoError("rename temp file to content/" + gid);
    }
    fill.tmp_name_.clear();  // published: nothing left to discard
    if (replacing && S_ISREG(old.st_mode)) {
      used_bytes_.fetch_sub(static_cast<uint64_t>(old.st_size));
    }
    used_bytes_.fetch_add(static_cast<uint64_t>(st.st_size));
  }
  // Make the rename itself durable. The content is already published, so a
  // failure here is only logged: the worst case is a re-download after a crash.
  if (::fsync(content_dir_fd_.get()) != 0) {
    LOG(WARN) << "content cache: fsync " << dir_ << "/content: " << std::strerror(errno);
  }
  EvictIfOverLimit();
  return read_fd;
}

Status ContentCache::AdoptFile(const std::string& gid, const std::string& path) {
  if (!IsValidGid(gid)) {
    return MakeError(ErrorCode::kInvalidArgument, "content cache: invalid gid");
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    return IoError("open " + path + " to adopt as " + gid);
  }
  struct stat st;
  if (::fsync(fd.get()) != 0 || ::fstat(fd.get(), &st) != 0) {
    return IoError("fsync " + path + " to adopt as " + gid);
  }
  std::string tmp_name = "adopt-" + std::to_string(::getpid()) + "-" +
                         std::to_string(tmp_counter_.fetch_add(1));
  if (::linkat(AT_FDCWD, path.c_str(), tmp_dir_fd_.get(), tmp_name.c_str(), 0) != 0) {
    return IoError("link " + path + " into the cache as " + gid);
  }
  {
    std::lock_guard<std::mutex> lock(publish_mu_);
    struct stat old;
    const bool replacing =
        ::fstatat(content_dir_fd_.get(), gid.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0;
    if (::renameat(tmp_dir_fd_.get(), tmp_name.c_str(), content_dir_fd_.get(), gid.c_str()) != 0) {
      Error e = IoError("rename adopted file to content/" + gid);
      ::unlinkat(tmp_dir_fd_.get(), tmp_name.c_str(), 0);
      return e;
    }
    if (replacing && S_ISREG(old.st_mode)) {
      used_bytes_.fetch_sub(static_cast<uint64_t>(old.st_size));
    }
    used_bytes_.fetch_add(static_cast<uint64_t>(st.st_size));
  }
  if (::fsync(content_dir_fd_.get()) != 0) {
    LOG(WARN) << "content cache: fsync " << dir_ << "/content: " << std::strerror(errno);
  }
  EvictIfOverLimit();
  return OkStatus();
}

void ContentCache::SetLimit(uint64_t max_bytes, std::function<bool(const std::string&)> in_use) {
  {
    std::lock_guard<std::mutex> lock(limit_mu_);
    max_bytes_ = max_bytes;
    in_use_ = std::move(in_use);
  }
  EvictIfOverLimit();
}

void ContentCache::EvictIfOverLimit() {
  uint64_t max;
  {
    std::lock_guard<std::mutex> lock(limit_mu_);
    max = max_bytes_;
  }
  if (max != 0 && UsedBytes() > max) {
    EvictTo(max / 10 * 9);
  }
}

uint64_t ContentCache::EvictTo(uint64_t target) {
  std::lock_guard<std::mutex> limit(limit_mu_);
  struct Entry {
    std::string gid;
    struct timespec used;
    uint64_t bytes;
  };
  std::vector<Entry> entries;
  int dup_fd = ::dup(content_dir_fd_.get());
  DIR* dir = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr;
  if (dir == nullptr) {
    if (dup_fd >= 0) {
      ::close(dup_fd);
    }
    LOG(WARN) << "content cache: cannot list " << dir_ << "/content: " << std::strerror(errno);
    return 0;
  }
  ::rewinddir(dir);
  while (struct dirent* d = ::readdir(dir)) {
    struct stat st;
    if (!IsValidGid(d->d_name) ||
        ::fstatat(content_dir_fd_.get(), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode)) {
      continue;
    }
    entries.push_back({d->d_name, st.st_mtim, static_cast<uint64_t>(st.st_size)});
  }
  ::closedir(dir);
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec < b.used.tv_sec
                                          : a.used.tv_nsec < b.used.tv_nsec;
  });
  uint64_t freed = 0;
  for (const auto& e : entries) {
    if (UsedBytes() <= target) {
      break;
    }
    if (in_use_ && in_use_(e.gid)) {
      continue;  // open files are never evicted
    }
    std::lock_guard<std::mutex> lock(publish_mu_);
    if (::unlinkat(content_dir_fd_.get(), e.gid.c_str(), 0) == 0) {
      used_bytes_.fetch_sub(e.bytes);
      freed += e.bytes;
    }
  }
  if (freed > 0) {
    LOG(INFO) << "content cache: evicted " << freed << " bytes of least recently used files";
  }
  return freed;
}

}  // namespace asanafs::model
