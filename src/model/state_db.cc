#include "asanafs/model/state_db.h"

#include <sqlite3.h>

#include <utility>

namespace asanafs::model {
namespace {

// RAII for one prepared statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void Bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  template <typename T>
  void BindOpt(int i, const std::optional<T>& v) {
    if (v) {
      sqlite3_bind_int64(stmt_, i, static_cast<int64_t>(*v));
    } else {
      sqlite3_bind_null(stmt_, i);
    }
  }
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int col) {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t == nullptr ? "" : std::string(reinterpret_cast<const char*>(t),
                                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  template <typename T>
  std::optional<T> Opt(int col) {
    if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) {
      return std::nullopt;
    }
    return static_cast<T>(sqlite3_column_int64(stmt_, col));
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS uploads (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_gid TEXT NOT NULL,
  name TEXT NOT NULL,
  replaces_gid TEXT NOT NULL DEFAULT '',
  state INTEGER NOT NULL,
  uploaded_gid TEXT NOT NULL DEFAULT '',
  staged_at INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS overlay (
  key TEXT PRIMARY KEY,
  mode INTEGER, uid INTEGER, gid INTEGER, mtime_ns INTEGER, atime_ns INTEGER
);
)sql";

}  // namespace

Result<std::unique_ptr<StateDb>> StateDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "cannot open state database " + path + ": " +
                      (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return MakeError(ErrorCode::kIo, msg);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<StateDb> state(new StateDb(db));
  RETURN_IF_ERROR(state->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(state->Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(state->Exec(kSchema));
  return state;
}

StateDb::~StateDb() { sqlite3_close(db_); }

Error StateDb::DbError(const char* what) const {
  return MakeError(ErrorCode::kIo, std::string("state database: ") + what + ": " +
                                       sqlite3_errmsg(db_));
}

Status StateDb::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return MakeError(ErrorCode::kIo, "state database: " + msg);
  }
  return OkStatus();
}

Result<int64_t> StateDb::AddUpload(const UploadRecord& r) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "INSERT INTO uploads (task_gid, name, replaces_gid, state, uploaded_gid, staged_at, size, "
         "last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!s.ok()) {
    return DbError("prepare insert");
  }
  s.Bind(1, r.task_gid);
  s.Bind(2, r.name);
  s.Bind(3, r.replaces_gid);
  s.Bind(4, static_cast<int64_t>(r.state));
  s.Bind(5, r.uploaded_gid);
  s.Bind(6, r.staged_at);
  s.Bind(7, static_cast<int64_t>(r.size));
  s.Bind(8, r.last_error);
  if (s.Step() != SQLITE_DONE) {
    return DbError("insert upload");
  }
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status StateDb::UpdateUpload(const UploadRecord& r) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "UPDATE uploads SET task_gid=?1, name=?2, replaces_gid=?3, state=?4, uploaded_gid=?5, "
         "staged_at=?6, size=?7, last_error=?8 WHERE id=?9");
  if (!s.ok()) {
    return DbError("prepare update");
  }
  s.Bind(1, r.task_gid);
  s.Bind(2, r.name);
  s.Bind(3, r.replaces_gid);
  s.Bind(4, static_cast<int64_t>(r.state));
  s.Bind(5, r.uploaded_gid);
  s.Bind(6, r.staged_at);
  s.Bind(7, static_cast<int64_t>(r.size));
  s.Bind(8, r.last_error);
  s.Bind(9, r.id);
  if (s.Step() != SQLITE_DONE) {
    return DbError("update upload");
  }
  return OkStatus();
}

Status StateDb::RemoveUpload(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "DELETE FROM uploads WHERE id=?1");
  if (!s.ok()) {
    return DbError("prepare delete");
  }
  s.Bind(1, id);
  if (s.Step() != SQLITE_DONE) {
    return DbError("delete upload");
  }
  return OkStatus();
}

Result<std::vector<UploadRecord>> StateDb::ListUploads() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "SELECT id, task_gid, name, replaces_gid, state, uploaded_gid, staged_at, size, "
         "last_error FROM uploads ORDER BY id");
  if (!s.ok()) {
    return DbError("prepare select");
  }
  std::vector<UploadRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    UploadRecord r;
    r.id = s.Int(0);
    r.task_gid = s.Text(1);
    r.name = s.Text(2);
    r.replaces_gid = s.Text(3);
    r.state = static_cast<UploadState>(s.Int(4));
    r.uploaded_gid = s.Text(5);
    r.staged_at = s.Int(6);
    r.size = static_cast<uint64_t>(s.Int(7));
    r.last_error = s.Text(8);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) {
    return DbError("select uploads");
  }
  return out;
}

Status StateDb::SetOverlay(const std::string& key, const Overlay& o) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_,
         "INSERT OR REPLACE INTO overlay (key, mode, uid, gid, mtime_ns, atime_ns) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s.ok()) {
    return DbError("prepare overlay");
  }
  s.Bind(1, key);
  s.BindOpt(2, o.mode);
  s.BindOpt(3, o.uid);
  s.BindOpt(4, o.gid);
  s.BindOpt(5, o.mtime_ns);
  s.BindOpt(6, o.atime_ns);
  if (s.Step() != SQLITE_DONE) {
    return DbError("set overlay");
  }
  return OkStatus();
}

namespace {
Overlay ReadOverlay(Stmt& s, int first_col) {
  Overlay o;
  o.mode = s.Opt<mode_t>(first_col);
  o.uid = s.Opt<uid_t>(first_col + 1);
  o.gid = s.Opt<gid_t>(first_col + 2);
  o.mtime_ns = s.Opt<int64_t>(first_col + 3);
  o.atime_ns = s.Opt<int64_t>(first_col + 4);
  return o;
}
}  // namespace

std::optional<Overlay> StateDb::GetOverlay(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "SELECT mode, uid, gid, mtime_ns, atime_ns FROM overlay WHERE key=?1");
  if (!s.ok()) {
    return std::nullopt;
  }
  s.Bind(1, key);
  if (s.Step() != SQLITE_ROW) {
    return std::nullopt;
  }
  return ReadOverlay(s, 0);
}

Result<std::vector<std::pair<std::string, Overlay>>> StateDb::ListOverlays() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "SELECT key, mode, uid, gid, mtime_ns, atime_ns FROM overlay");
  if (!s.ok()) {
    return DbError("prepare overlay list");
  }
  std::vector<std::pair<std::string, Overlay>> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.emplace_back(s.Text(0), ReadOverlay(s, 1));
  }
  if (rc != SQLITE_DONE) {
    return DbError("list overlays");
  }
  return out;
}

Status StateDb::MoveOverlay(const std::string& from, const std::string& to) {
  auto o = GetOverlay(from);
  if (!o) {
    return OkStatus();
  }
  RETURN_IF_ERROR(SetOverlay(to, *o));
  return RemoveOverlay(from);
}

Status StateDb::RemoveOverlay(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "DELETE FROM overlay WHERE key=?1");
  if (!s.ok()) {
    return DbError("prepare overlay delete");
  }
  s.Bind(1, key);
  if (s.Step() != SQLITE_DONE) {
    return DbError("delete overlay");
  }
  return OkStatus();
}

}  // namespace asanafs::model
