#include "asanafs/util/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace asanafs {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_syslog{false};
std::atomic<bool> g_redact{false};
std::mutex g_write_mu;  // keeps records whole when threads log at once

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return LOG_DEBUG;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kWarn:
      return LOG_WARNING;
    case LogLevel::kError:
      return LOG_ERR;
  }
  return LOG_INFO;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }
void SetLogToSyslog(bool on) {
  if (on) {
    // LOG_PID: glibc adds the caller's current pid to each record, so records
    // written after daemon() carry the daemon's pid.
    openlog("asanafs", LOG_PID, LOG_DAEMON);
  }
  g_syslog = on;
}
void SetRedactNames(bool on) { g_redact = on; }
bool RedactNames() { return g_redact; }

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  if (text == "debug") {
    *out = LogLevel::kDebug;
  } else if (text == "info") {
    *out = LogLevel::kInfo;
  } else if (text == "warn" || text == "warning") {
    *out = LogLevel::kWarn;
  } else if (text == "error") {
    *out = LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

std::ostream& operator<<(std::ostream& os, const Redacted& r) {
  if (g_redact) {
    return os << "(redacted)";
  }
  // Names are untrusted: keep one record on one line.
  os << '"';
  for (char c : r.text) {
    if (c == '\n') {
      os << "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      os << '?';
    } else {
      os << c;
    }
  }
  return os << '"';
}

namespace internal {

LogRecord::~LogRecord() {
  std::string text = os_.str();
  if (g_syslog) {
    syslog(SyslogPriority(level_), "%s", text.c_str());
    return;
  }
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm_buf;
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", gmtime_r(&now, &tm_buf));
  std::lock_guard<std::mutex> lock(g_write_mu);
  std::fprintf(stderr, "%sZ asanafs %s: %s\n", stamp, LevelName(level_), text.c_str());
}

}  // namespace internal
}  // namespace asanafs
