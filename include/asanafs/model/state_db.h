// model/state_db: what must survive a crash, in SQLite — the upload journal
// (files staged on disk until they have landed in Asana) and the metadata
// overlay (mode, owner and times set by chmod/chown/utimens, which Asana has
// no field for). Layer: model (SQLite is private to state_db.cc).
#ifndef ASANAFS_MODEL_STATE_DB_H_
#define ASANAFS_MODEL_STATE_DB_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "asanafs/util/result.h"

struct sqlite3;

namespace asanafs::model {

// The life of a staged file. kOpen: still being written (never uploaded
// after a crash: its content may be partial). kPending: complete, waiting to
// be uploaded. kDeferred: complete but under a temporary name (rsync's
// .name.XXXXXX) — uploaded at rename, or after a grace period. kUploaded: in
// Asana as `uploaded_gid`, the replaced attachment not yet deleted.
enum class UploadState { kOpen = 0, kPending = 1, kDeferred = 2, kUploaded = 3 };

struct UploadRecord {
  int64_t id = 0;
  std::string task_gid;      // where it goes
  std::string name;          // the Asana name to upload as
  std::string replaces_gid;  // attachment to delete once this one landed ("" = none)
  UploadState state = UploadState::kOpen;
  std::string uploaded_gid;  // set in kUploaded
  int64_t staged_at = 0;     // unix seconds when the content was completed
  uint64_t size = 0;
  std::string last_error;    // why the last attempt failed ("" = none yet)
};

// Attributes set locally. Unset fields fall back to what Asana reports.
struct Overlay {
  std::optional<mode_t> mode;  // permission bits only
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<int64_t> mtime_ns;
  std::optional<int64_t> atime_ns;
};

class StateDb {
 public:
  // Opens (creating if needed) the database at `path` in WAL mode with
  // synchronous=FULL: a committed change survives a crash or power loss.
  static Result<std::unique_ptr<StateDb>> Open(const std::string& path);
  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  // Journal. AddUpload assigns and returns the id (record.id is ignored).
  Result<int64_t> AddUpload(const UploadRecord& record);
  Status UpdateUpload(const UploadRecord& record);
  Status RemoveUpload(int64_t id);
  Result<std::vector<UploadRecord>> ListUploads();

  // Overlay, keyed by an attachment gid or "staged:<id>" before it landed.
  Status SetOverlay(const std::string& key, const Overlay& overlay);
  std::optional<Overlay> GetOverlay(const std::string& key);
  // Moves the overlay of `from` to `to` (replacing any there); no-op if none.
  Status MoveOverlay(const std::string& from, const std::string& to);
  Status RemoveOverlay(const std::string& key);
  // Every overlay, for loading into memory at mount.
  Result<std::vector<std::pair<std::string, Overlay>>> ListOverlays();

 private:
  explicit StateDb(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  Error DbError(const char* what) const;

  std::mutex mu_;  // serialises use of db_
  sqlite3* db_;
};

}  // namespace asanafs::model

#endif  // ASANAFS_MODEL_STATE_DB_H_
