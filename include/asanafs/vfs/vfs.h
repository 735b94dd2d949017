// vfs/vfs: POSIX semantics of the Asana tree, with no libfuse types.
// Layer: vfs (depends on model/, asana/ and util/).
//
// The tree is /<workspace>/<project>/<task>/<attachment>, subtasks being
// directories inside their task. Every inode number handed to the kernel
// names a Node in the NodeTable; directory listings come from one paginated
// API listing per directory (never a request per entry) and are cached for
// `dir_ttl`. Reads are served from the on-disk ContentCache, filled from a
// fresh download_url fetched at open.
#ifndef ASANAFS_VFS_VFS_H_
#define ASANAFS_VFS_VFS_H_

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "asanafs/asana/api.h"
#include "asanafs/model/content_cache.h"
#include "asanafs/util/clock.h"
#include "asanafs/util/result.h"
#include "asanafs/vfs/node_table.h"

namespace asanafs::vfs {

struct VfsOptions {
  uid_t uid = 0;
  gid_t gid = 0;
  std::chrono::seconds dir_ttl{60};  // how long a directory listing is reused
  double entry_timeout = 1.0;        // seconds the kernel may cache a name
  double attr_timeout = 1.0;         // seconds the kernel may cache attributes
  bool read_only = true;
};

// What Lookup returns: the kernel's view of one name.
struct Entry {
  uint64_t ino = 0;
  struct stat attr {};
  double entry_timeout = 0;
  double attr_timeout = 0;
};

// Receives readdir entries; Add returns false when the reply buffer is full
// (the entry was not added and will be offered again at the next call).
class DirFiller {
 public:
  virtual ~DirFiller() = default;
  virtual bool Add(std::string_view name, const struct stat& st, off_t next_offset) = 0;
};

struct OpenResult {
  uint64_t fh = 0;
  bool keep_cache = false;  // content is immutable: the page cache stays valid
};

class Vfs {
 public:
  // `api`, `cache` and `clock` must outlive the Vfs.
  Vfs(asana::AsanaApi& api, model::ContentCache& cache, Clock& clock, VfsOptions options);
  ~Vfs();
  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;

  // Returns the entry for `name` in directory `parent` and counts one kernel
  // reference to it. kNotFound when the name does not exist.
  Result<Entry> Lookup(uint64_t parent, std::string_view name);
  // Drops `nlookup` kernel references to `ino`.
  void Forget(uint64_t ino, uint64_t nlookup);
  Result<struct stat> GetAttr(uint64_t ino);
  // Snapshots the directory's listing for a stable readdir; returns a handle.
  Result<uint64_t> OpenDir(uint64_t ino);
  // Fills entries of the snapshot starting after `offset` (0 = the start).
  Status ReadDir(uint64_t fh, off_t offset, DirFiller& filler);
  void ReleaseDir(uint64_t fh);
  // Opens a file for reading: fetches a fresh download URL and the content
  // into the cache unless it is cached already.
  Result<OpenResult> Open(uint64_t ino, int flags);
  // Reads up to `size` bytes at `offset` into `buf`; returns the byte count.
  Result<size_t> Read(uint64_t fh, char* buf, size_t size, off_t offset);
  void Release(uint64_t fh);
  struct statvfs StatFs() const;
  // The errors a read-only tree gives to every modifying operation.
  Status RefuseWrite() const;

 private:
  struct ChildSpec;
  struct OpenFile;
  struct DirSnapshot;

  // Makes sure `dir`'s listing is no older than dir_ttl; concurrent callers
  // for the same directory share one fetch.
  Status EnsureListed(uint64_t dir);
  Result<std::vector<ChildSpec>> FetchListing(NodeKind kind, const std::string& gid);
  void ApplyListing(uint64_t dir, const std::vector<ChildSpec>& children);  // mu_ held
  Result<UniqueFd> FetchContent(const std::string& gid, uint64_t size);
  Result<UniqueFd> DownloadOnce(const std::string& gid, uint64_t size, bool* url_expired);
  Entry MakeEntry(const Node& node) const;

  asana::AsanaApi& api_;
  model::ContentCache& cache_;
  Clock& clock_;
  const VfsOptions options_;
  const std::chrono::system_clock::time_point mount_time_;

  // Guards nodes_, listing_in_flight_. Never held across a network call.
  // Lock order: mu_ before handles_mu_; download_mu_ entries are taken alone.
  mutable std::mutex mu_;
  NodeTable nodes_;
  std::map<uint64_t, std::shared_future<Status>> listing_in_flight_;

  std::mutex handles_mu_;  // guards files_, dirs_, next_fh_
  std::unordered_map<uint64_t, std::shared_ptr<OpenFile>> files_;
  std::unordered_map<uint64_t, std::shared_ptr<DirSnapshot>> dirs_;
  uint64_t next_fh_ = 1;

  std::mutex download_mu_;  // guards downloads_: one mutex per gid being fetched
  std::map<std::string, std::weak_ptr<std::mutex>> downloads_;
};

}  // namespace asanafs::vfs

#endif  // ASANAFS_VFS_VFS_H_
