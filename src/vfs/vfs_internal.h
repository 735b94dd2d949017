// vfs/vfs_internal: the private records shared by vfs.cc (read side) and
// vfs_write.cc (write side). Not a public header.
#ifndef ASANAFS_SRC_VFS_VFS_INTERNAL_H_
#define ASANAFS_SRC_VFS_VFS_INTERNAL_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "asanafs/util/unique_fd.h"
#include "asanafs/vfs/upload_stream.h"
#include "asanafs/vfs/vfs.h"

namespace asanafs::vfs {

// Default modes under -o umask; -o ro and .url links drop the write bits.
inline mode_t DefaultDirMode(const VfsOptions& o) {
  return S_IFDIR | ((o.read_only ? 0555 : 0777) & ~o.umask & 0777);
}
inline mode_t DefaultFileMode(const VfsOptions& o, bool writable = true) {
  return S_IFREG | ((writable && !o.read_only ? 0666 : 0444) & ~o.umask & 0777);
}

// One child as a listing reports it, before names are assigned.
struct Vfs::ChildSpec {
  NodeKind kind;
  std::string gid;
  std::string raw_name;
  std::optional<asana::TimePoint> created_at;
  std::optional<asana::TimePoint> modified_at;
  uint64_t size = 0;
  std::string link_text;
  std::string url;
  std::string host;
};

// A file written through the mount and not yet (fully) landed in Asana.
struct Vfs::Staged {
  std::mutex op_mu;  // serialises writes, uploads and renames of this file
  // Guarded by Vfs::mu_:
  model::UploadRecord rec;
  std::vector<uint64_t> inos;     // nodes showing it (one per path)
  bool discarded = false;         // unlinked: never upload
  bool check_remote = false;      // an attempt may have landed: look before re-sending
  bool uploading = false;         // an upload request is in flight
  std::atomic<uint64_t> sent{0};  // bytes of the upload in flight sent so far
  // Guarded by op_mu:
  std::string path;  // the staging file
  UniqueFd fd;       // read-write
  int writers = 0;   // open write handles
  bool dirty = false;
  bool finished = false;   // landed or discarded: never written or uploaded again
  bool too_large = false;  // a write past 100 MiB failed: never uploaded
  // Uploading while it is written (UploadStream): decided at the first write;
  // started once stream_upload_min bytes are in, under the name and task below.
  bool stream_decided = false;
  std::string stream_task;
  std::string stream_name;
  std::atomic<bool> streaming{false};  // its request is running (for the status file)
  // Last: destroyed first, so its request ends while the rest is still here.
  std::unique_ptr<UploadStream> stream;

  std::string Key() const { return "staged:" + std::to_string(rec.id); }
};

struct Vfs::OpenFile {
  ~OpenFile() {
    if (remote != nullptr) {
      remote->RemoveReader();  // may publish the download: `remote` is still held
    }
  }
  uint64_t ino = 0;
  std::string gid;  // the attachment whose cached content `fd` holds
  pid_t open_pid = 0;
  bool writable = false;
  bool wrote = false;                    // write() was called through this handle
  UniqueFd fd;                           // cached or staged content for reading
  uint64_t size = 0;                     // of the cached content in `fd`
  std::atomic<uint64_t> cache_ahead{0};  // `fd` has been read ahead up to here
  std::shared_ptr<RemoteFile> remote;    // streamed content (not cached yet); a reader of it
  std::mutex ra_mu;                      // guards ra: the kernel reads in parallel
  ReadAhead ra;
  std::shared_ptr<Staged> staged;  // set once a writable handle has staged the file
  std::string inline_data;         // .url stubs
  bool is_inline = false;
};

struct Vfs::DirSnapshot {
  struct Item {
    std::string name;
    struct stat st;
  };
  std::vector<Item> items;  // ".", ".." then the children in name order
};

// Helpers shared by both halves.
struct timespec ToTimespec(std::chrono::system_clock::time_point t);
void SetTimes(struct stat* st, std::chrono::system_clock::time_point t);
Error SysError(const std::string& what);
// pwrite(2) all of `buf` (EINTR and short writes retried).
Status WriteAllAt(int fd, const char* buf, size_t size, off_t offset);
// pread(2) until `size` bytes or the end of the file; the count read.
Result<size_t> ReadAt(int fd, char* buf, size_t size, off_t offset, const char* what);
// The journal keeps the gids a staged file replaces as "gid,gid".
std::vector<std::string> SplitGids(const std::string& joined);
std::string JoinGids(const std::vector<std::string>& gids);
// rsync's temporary names: ".<name>.<6 letters or digits>".
bool IsTemporaryName(std::string_view name);
// Records a change this mount made in directory `dir` (Vfs::mu_ held): see
// Node::local_changes.
inline void NoteLocalChange(NodeTable& nodes, uint64_t dir) {
  if (Node* d = nodes.Get(dir)) {
    d->local_changes++;
  }
}
// The same for the directories holding the nodes `inos`.
inline void NoteLocalChangeAbove(NodeTable& nodes, const std::vector<uint64_t>& inos) {
  for (uint64_t ino : inos) {
    if (const Node* n = nodes.Get(ino)) {
      NoteLocalChange(nodes, n->parent);
    }
  }
}

}  // namespace asanafs::vfs

#endif  // ASANAFS_SRC_VFS_VFS_INTERNAL_H_
