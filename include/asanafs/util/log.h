// util/log: one-line log records with a level filter. Layer: util.
//
// LOG(WARN) << "upload of " << Redacted{name} << " failed: " << err.message;
// Records go to stderr (foreground) or syslog (daemon). Never log the token:
// nothing below asana/ ever sees it in a form that reaches a log line, and
// curl's verbose mode is never enabled.
#ifndef ASANAFS_UTIL_LOG_H_
#define ASANAFS_UTIL_LOG_H_

#include <sstream>
#include <string>
#include <string_view>

namespace asanafs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Sets the minimum level that is written. Thread-safe.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warn"/"warning", "error". Returns false if unknown.
bool ParseLogLevel(std::string_view text, LogLevel* out);
// Sends records to syslog instead of stderr (daemon mode), as
// openlog("asanafs", LOG_PID, LOG_DAEMON).
void SetLogToSyslog(bool on);
// When on, Redacted{} prints "(redacted)" instead of names (-o redact).
void SetRedactNames(bool on);
bool RedactNames();

// A user-data string (file or task name) that -o redact hides in logs.
struct Redacted {
  std::string_view text;
};
std::ostream& operator<<(std::ostream& os, const Redacted& r);

namespace internal {
class LogRecord {
 public:
  explicit LogRecord(LogLevel level) : level_(level) {}
  ~LogRecord();
  std::ostream& stream() { return os_; }

 private:
  LogLevel level_;
  std::ostringstream os_;
};
}  // namespace internal

}  // namespace asanafs

#define ASANAFS_LOG_LEVEL_DEBUG ::asanafs::LogLevel::kDebug
#define ASANAFS_LOG_LEVEL_INFO ::asanafs::LogLevel::kInfo
#define ASANAFS_LOG_LEVEL_WARN ::asanafs::LogLevel::kWarn
#define ASANAFS_LOG_LEVEL_ERROR ::asanafs::LogLevel::kError

// LOG(DEBUG|INFO|WARN|ERROR) << ...; the stream is not evaluated below the level.
#define LOG(level)                                                   \
  if (ASANAFS_LOG_LEVEL_##level < ::asanafs::GetLogLevel()) {        \
  } else                                                             \
    ::asanafs::internal::LogRecord(ASANAFS_LOG_LEVEL_##level).stream()

#endif  // ASANAFS_UTIL_LOG_H_
