// vfs/vfs: POSIX semantics of the Asana tree, with no libfuse types.
// Layer: vfs (depends on model/, the asana/ interface and util/).
//
// The tree is /<workspace>/<project>/<task>/<attachment>, subtasks being
// directories inside their task; a project directory also holds the project's
// own attachments ("Key resources"). With `sections`, a project directory
// holds one directory per section instead of its tasks:
// /<workspace>/<project>/<section>/<task>/... Every inode number handed to the kernel
// names a Node in the NodeTable; directory listings come from one paginated
// API listing per directory (never a request per entry) and are cached for
// `dir_ttl`. Reads are served from the on-disk ContentCache, filled from a
// fresh download_url fetched at open.
//
// Writes (vfs_write.cc) are staged on local disk and journaled in the
// StateDb, uploaded at close (flush from the opener or last release), and
// retried by a background worker until they land; see SEMANTICS.md.
#ifndef ASANAFS_VFS_VFS_H_
#define ASANAFS_VFS_VFS_H_

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "asanafs/asana/api.h"
#include "asanafs/model/content_cache.h"
#include "asanafs/model/state_db.h"
#include "asanafs/util/clock.h"
#include "asanafs/util/result.h"
#include "asanafs/vfs/node_table.h"
#include "asanafs/vfs/reader.h"

namespace asanafs::vfs {

// Asana refuses attachments over 100 MB; a write past this fails with EFBIG.
inline constexpr uint64_t kMaxFileBytes = 100ull * 1024 * 1024;

struct VfsOptions {
  uid_t uid = 0;
  gid_t gid = 0;
  // -o umask: bits cleared from 0666 (files) and 0777 (directories). A chmod
  // kept in the overlay wins over this default.
  mode_t umask = 022;
  std::chrono::seconds dir_ttl{60};  // how long a directory listing is reused
  double entry_timeout = 1.0;        // seconds the kernel may cache a name
  double attr_timeout = 1.0;         // seconds the kernel may cache attributes
  bool read_only = false;
  // A file under a temporary name (rsync's .name.XXXXXX) that is closed but
  // never renamed is uploaded under that name after this long.
  std::chrono::seconds temp_grace{60};
  // Where staged files live (on the same filesystem as the content cache).
  std::string staging_dir;
  // Where files that were still being written at a crash are kept.
  std::string recovered_dir;
  bool start_worker = true;  // tests drive RunWorkerOnce() instead
  ReaderOptions reader;
  uint64_t cache_limit_bytes = 0;  // content cache cap (0 = none); LRU eviction
  size_t fetch_threads = 8;        // parallel range requests across all open files
  // Background listings during a traversal (find, ls -R, rsync). A task
  // listing is two requests: 25 fill Asana's 50 GETs in flight, and the
  // limiter lets a waiting foreground request go before them.
  size_t prefetch_threads = 40;
  // Change detection: the Events API of every project in use is polled this
  // often (0 = never; the listing TTL alone then decides freshness). A project
  // is in use while anything in it was looked up within `active_window`.
  std::chrono::seconds poll_interval{15};
  std::chrono::seconds active_window{300};
  // -o sections: project directories list their sections, each holding its tasks.
  bool sections = false;
  // A new file written front to back starts uploading once this many bytes are
  // in, instead of at close (0 = only at close). See vfs/upload_stream.h.
  uint64_t stream_upload_min = 4 << 20;
  // How long such an upload waits for the writer's next bytes before it gives
  // up (the file then uploads at close).
  std::chrono::milliseconds stream_idle{5000};
};

// Uploads running while their file is written, at most: each holds one of
// Asana's 15 writes in flight for as long as its writer writes.
inline constexpr int kMaxStreamingUploads = 2;

// Tells the kernel to drop what it cached (libfuse's notify_inval_*); set by
// the FUSE layer. Called from the poller thread, never with a Vfs lock held.
struct KernelInvalidator {
  std::function<void(uint64_t ino)> inode;
  std::function<void(uint64_t parent, const std::string& name)> entry;
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
  bool direct_io = false;
};

// st_blksize of files, and the largest FUSE write request asked for: tools
// size their buffers by st_blksize, so `cp` moves 1 MiB per call and request.
inline constexpr uint32_t kIoBlockSize = 1u << 20;

// Where the bytes of a read are, so the FUSE layer can splice them from the
// file instead of copying them through a buffer: `size` bytes of `fd` at
// `offset`, or (fd < 0) the bytes of `inline_bytes`. `keep` holds whatever
// owns the fd or the bytes until the reply has been sent.
struct ReadSource {
  int fd = -1;
  off_t offset = 0;
  size_t size = 0;
  std::string_view inline_bytes;
  std::shared_ptr<const void> keep;
};

struct CreateResult {
  Entry entry;
  uint64_t fh = 0;
};

// The attributes a setattr call changes (unset = unchanged).
struct SetAttrRequest {
  std::optional<mode_t> mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<off_t> size;
  std::optional<struct timespec> atime;  // already resolved for UTIME_NOW
  std::optional<struct timespec> mtime;
};

// Counts of the upload pipeline, for status and tests.
struct UploadStats {
  size_t staged = 0;  // not yet landed (open, pending, deferred, failed)
  size_t failed = 0;  // last attempt failed; retrying
};

// Sizes of the per-file bookkeeping, for tests that it does not grow with
// files that come and go (issue 5's soak).
struct BookkeepingStats {
  size_t nodes = 0;      // inodes known
  size_t overlays = 0;   // attributes set locally (chmod, utimens)
  size_t downloads = 0;  // per-gid download locks
  size_t remotes = 0;    // streamed files (weak references, swept)
};

class Vfs {
 public:
  // `api`, `cache`, `state` and `clock` must outlive the Vfs. Loads the
  // journal (pending uploads resume in the background worker).
  Vfs(asana::AsanaApi& api, model::ContentCache& cache, model::StateDb& state, Clock& clock,
      VfsOptions options);
  ~Vfs();  // stops the worker; pending uploads stay journaled for the next mount
  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;

  // --- read side (vfs.cc) ---
  Result<Entry> Lookup(uint64_t parent, std::string_view name);
  void Forget(uint64_t ino, uint64_t nlookup);
  Result<struct stat> GetAttr(uint64_t ino);
  Result<uint64_t> OpenDir(uint64_t ino);
  Status ReadDir(uint64_t fh, off_t offset, DirFiller& filler);
  void ReleaseDir(uint64_t fh);
  // Opens a file. Read-only opens of landed files fetch a fresh download URL
  // and the content into the cache unless cached. Write opens stage the file
  // (O_TRUNC at once, otherwise at the first write). `pid` is the opener.
  Result<OpenResult> Open(uint64_t ino, int flags, pid_t pid);
  // Makes the bytes [offset, offset + size) readable (fetching them if they
  // are remote) and says where they are; size is clipped at the end of file.
  Result<ReadSource> PrepareRead(uint64_t fh, size_t size, off_t offset);
  // PrepareRead, then copies the bytes into `buf`.
  Result<size_t> Read(uint64_t fh, char* buf, size_t size, off_t offset);
  struct statvfs StatFs() const;
  // Read-only extended attributes user.asana.* (gid, resource_type, url,
  // host, created_at, upload_state), from data already fetched: no requests.
  Result<std::vector<std::string>> ListXattr(uint64_t ino);
  Result<std::string> GetXattr(uint64_t ino, std::string_view name);
  // The text of /.asanafs-status: uploads not yet landed and cache usage.
  std::string StatusText();

  // --- write side (vfs_write.cc) ---
  Result<CreateResult> Create(uint64_t parent, std::string_view name, mode_t mode, int flags,
                              pid_t pid);
  Result<size_t> Write(uint64_t fh, const char* buf, size_t size, off_t offset);
  // close(): uploads now if `pid` opened the file and it changed.
  Status Flush(uint64_t fh, pid_t pid);
  Status Fsync(uint64_t fh);
  // Last close of a handle: uploads a changed file nobody else has open.
  void Release(uint64_t fh);
  Status Unlink(uint64_t parent, std::string_view name);
  Status Rename(uint64_t parent, std::string_view name, uint64_t new_parent,
                std::string_view new_name, unsigned flags);
  Result<Entry> Mkdir(uint64_t parent, std::string_view name, mode_t mode);
  Status Rmdir(uint64_t parent, std::string_view name);
  Result<struct stat> SetAttr(uint64_t ino, const SetAttrRequest& request);
  // Symlinks, hard links and device files: EPERM.
  Status RefuseUnsupported(const char* what) const;

  // Starts the background upload worker (when options.start_worker was false).
  void StartWorker();
  // Runs one pass of the background worker over every due item (tests).
  void RunWorkerOnce();
  // Set before the session runs; without one, only Vfs caches are refreshed.
  void SetKernelInvalidator(KernelInvalidator k);
  // One round of Events API polling over the projects in use (the poller
  // thread runs it every poll_interval). Returns the directories re-listed.
  size_t PollEventsOnce();
  UploadStats GetUploadStats();
  BookkeepingStats GetBookkeepingStats();

 private:
  struct ChildSpec;
  struct OpenFile;
  struct DirSnapshot;
  struct Staged;

  // read side
  Status EnsureListed(uint64_t dir);
  // Notes that `dir` was opened; after two distinct siblings were, lists the
  // remaining siblings (and their subdirectories) in the background.
  void NoteDescent(uint64_t dir);
  void PrefetchListing(uint64_t dir, int depth);
  Result<std::vector<ChildSpec>> FetchListing(NodeKind kind, const std::string& gid);
  // GET /attachments?parent=`gid` as children (files and .url links).
  Result<std::vector<ChildSpec>> FetchAttachments(const std::string& gid);
  void ApplyListing(uint64_t dir, const std::vector<ChildSpec>& children);  // mu_ held
  void AddStagedChildren(Node* dir);                                        // mu_ held
  Result<UniqueFd> FetchContent(const std::string& gid, uint64_t size);
  void ReadAheadCached(OpenFile& file, uint64_t read_end);
  Result<UniqueFd> DownloadOnce(const std::string& gid, uint64_t size, bool* url_expired);
  // True if an open handle reads `gid`'s cached content (never evicted).
  bool IsOpen(const std::string& gid);
  // Returns the streaming reader of `gid`, shared by every handle that has it open,
  // with the caller counted as a reader (OpenFile's destructor removes it).
  Result<std::shared_ptr<RemoteFile>> OpenRemote(const std::string& gid, uint64_t size);
  Entry MakeEntry(const Node& node) const;
  void AddStatusNode(Node* root);       // mu_ held
  std::string StatusTextLocked();       // mu_ held
  void ApplyOverlay(Node* node) const;  // mu_ held
  // Drops a file node nothing refers to any more (mu_ held): the kernel forgot
  // it and it is neither in its directory's listing nor staged. Without this,
  // every file created and removed would cost memory for the mount's life.
  void DropIfUnused(uint64_t ino);
  std::shared_ptr<OpenFile> FindFile(uint64_t fh);
  uint64_t AddHandle(std::shared_ptr<OpenFile> file);

  // write side
  Result<std::shared_ptr<Staged>> NewStaged(model::UploadRecord rec, int content_fd,
                                            uint64_t copy_bytes);
  Result<std::shared_ptr<Staged>> StageExisting(uint64_t ino, bool truncate);
  Status UploadIfDirty(Staged& s);  // op_mu held
  Status UploadNow(Staged& s);      // op_mu held
  // Stages the write through the file's UploadStream when it has one; decides
  // at the first write whether it gets one, and starts it (op_mu held).
  Status WriteStaged(Staged& s, const char* buf, size_t size, off_t offset);
  // Ends the upload that ran while the file was written, if it is still the
  // file's (same content, name and task). Landed: true; false: upload as usual.
  Result<bool> CompleteStream(Staged& s, uint64_t size);  // op_mu held
  Status Land(Staged& s, const asana::Attachment& att);   // op_mu held
  Status DeleteReplaced(Staged& s);                       // op_mu held
  void FinishOpenReaders(const std::string& gid);
  void Finish(Staged& s, const asana::Attachment& att);  // op_mu held
  void Discard(Staged& s);                               // op_mu held
  Result<std::optional<asana::Attachment>> FindLanded(const Staged& s);
  Status SetOverlayFor(const std::string& key, const model::Overlay& overlay);
  void MoveOverlay(const std::string& from, const std::string& to);
  void RecoverJournal();
  void Schedule(int64_t id, std::chrono::milliseconds delay);
  void ProcessStaged(const std::shared_ptr<Staged>& s);
  void WorkerLoop();
  Status CheckWritable() const;

  // change detection (vfs_events.cc)
  void NoteUse(const Node* node);  // mu_ held
  void EventLoop();
  // Directories whose listing an event makes stale (mu_ held).
  void DirsTouchedBy(const asana::Event& e, std::set<uint64_t>* dirs);
  // Marks every listed directory under `ino` stale (mu_ held).
  void MarkSubtreeStale(uint64_t ino, std::vector<uint64_t>* marked);
  // Re-lists `dirs` now and tells the kernel what changed.
  size_t Refresh(const std::set<uint64_t>& dirs);

  asana::AsanaApi& api_;
  model::ContentCache& cache_;
  model::StateDb& state_;
  Clock& clock_;
  const VfsOptions options_;
  const std::chrono::system_clock::time_point mount_time_;

  // Guards nodes_, listing_in_flight_, staged_, overlays_ and the mutable
  // fields of every Staged (rec, inos, discarded). Never held across a
  // network call. Lock order: Staged::op_mu → mu_ → handles_mu_ → work_mu_;
  // download_mu_ is taken alone.
  mutable std::mutex mu_;
  NodeTable nodes_;
  std::map<uint64_t, std::shared_future<Status>> listing_in_flight_;
  std::map<int64_t, std::shared_ptr<Staged>> staged_;  // by journal id
  std::unordered_map<std::string, model::Overlay> overlays_;

  std::mutex handles_mu_;  // guards files_, dirs_, next_fh_
  std::unordered_map<uint64_t, std::shared_ptr<OpenFile>> files_;
  std::unordered_map<uint64_t, std::shared_ptr<DirSnapshot>> dirs_;
  uint64_t next_fh_ = 1;

  std::mutex download_mu_;  // guards downloads_: one mutex per gid being fetched
  std::map<std::string, std::weak_ptr<std::mutex>> downloads_;

  std::mutex work_mu_;  // guards due_, attempts_, stopping_
  std::condition_variable work_cv_;
  std::map<int64_t, SteadyTime> due_;  // journal id → when to look at it next
  std::map<int64_t, int> attempts_;
  bool stopping_ = false;
  std::thread worker_;

  // Guarded by mu_: per project gid, when something in it was last used and
  // the sync token of its event stream.
  std::map<std::string, SteadyTime> project_used_;
  std::map<std::string, std::string> sync_tokens_;
  KernelInvalidator kernel_;
  std::atomic<bool> events_supported_{true};
  std::atomic<int> streams_running_{0};  // UploadStream requests in flight
  // Cleared when the server refused a streamed (chunked) upload as such.
  std::atomic<bool> streams_supported_{true};
  std::thread events_thread_;  // waits on work_cv_ like worker_

  std::mutex remotes_mu_;  // guards remotes_: files being streamed, by gid
  std::map<std::string, std::weak_ptr<RemoteFile>> remotes_;
  // Last: destroyed first, so no fetch job outlives what it uses.
  FetchPool fetch_pool_;
  FetchPool listing_pool_;  // destroyed before fetch_pool_: uses nothing of it
};

}  // namespace asanafs::vfs

#endif  // ASANAFS_VFS_VFS_H_
