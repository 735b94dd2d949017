// HTTP routes of the Asana emulator (test layer, tests/emulator): the /api/1.0 API (auth,
// envelopes, pagination, opt_fields, uploads), the expiring /_blobs download route with Range
// support, and the unauthenticated /_control routes tests use (stats, faults, state, objects).
#ifndef TESTS_EMULATOR_ROUTES_H_
#define TESTS_EMULATOR_ROUTES_H_

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "faults.h"
#include "world.h"

namespace asanafs::emulator {

struct Options {
  int port = 0;
  std::string state_dir;
  std::string seed;
  int64_t latency_ms = 0;
  int64_t url_ttl_s = 120;
  std::string faults;
  uint64_t fault_seed = 1;
  std::string token = "emulator-token";
  uint64_t conn_bandwidth = 0;  // bytes/s per connection on /_blobs; 0 = unlimited
};

// Sleeps that end early when the emulator shuts down, so SIGTERM never waits for a `slow`
// fault or a throttled download.
class Stopper {
 public:
  // False if interrupted by Stop().
  bool SleepMs(int64_t ms);
  void Stop();
  bool stopping() const { return stopping_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stopping_{false};
};

// Ends reading on every accepted connection to local_port, so idle keep-alive connections
// close at once at shutdown instead of after their keep-alive timeout.
// cpp-httplib listens with a backlog of 5: a burst of new connections (a
// client filling its connection pool) overflowed it, and every dropped SYN
// cost that client a 1 s retransmit. Asana's front ends take such bursts.
void WidenListenBacklog(int local_port, int backlog);
void ShutdownConnections(int local_port);

class Routes {
 public:
  Routes(const Options& options, World& world, Faults& faults, Stats& stats, Stopper& stopper);

  void Install(httplib::Server& server);
  // Called once the port is known: download URLs and next_page.uri are absolute.
  void SetBaseUrl(const std::string& base_url, int port);

 private:
  struct Ctx;  // one API request in flight

  void HandleApi(const httplib::Request& req, httplib::Response& res,
                 const httplib::ContentReader* reader);
  void Dispatch(Ctx& c);
  void HandleBlob(const httplib::Request& req, httplib::Response& res);

  // /api/1.0 handlers.
  void GetUser(Ctx& c, const std::string& user);
  void GetWorkspaces(Ctx& c);
  void GetOne(Ctx& c, const std::string& gid, Kind kind, const char* param);
  void GetProjectsOf(Ctx& c, const std::string& workspace);
  void GetTasksOf(Ctx& c, const std::string& project);
  void GetSubtasksOf(Ctx& c, const std::string& task);
  void GetSectionsOf(Ctx& c, const std::string& project);
  void GetTasksOfSection(Ctx& c, const std::string& section);
  void GetAttachments(Ctx& c);
  void PostAttachment(Ctx& c);
  void DeleteAttachment(Ctx& c, const std::string& gid);
  void PostTask(Ctx& c, const std::string& parent);
  void GetEvents(Ctx& c, const std::string& resource);

  // Shared pieces.
  void ReplyList(Ctx& c, const std::vector<std::string>& gids, const std::string& list_key);
  void ReplyObject(Ctx& c, int status, const std::string& gid, bool full);
  bool ReadBody(Ctx& c, std::string* body);
  void Drain(Ctx& c);
  std::string SignedUrl(const Attachment& a) const;
  std::string OffsetToken(const std::string& list_key, size_t index,
                          const std::string& last_gid) const;
  bool ParseOffset(const std::string& list_key, const std::string& token, size_t* index,
                   std::string* last_gid) const;
  void KillConnection(const httplib::Request& req);
  bool SaveWorld();

  // /_control handlers.
  void ControlAddObject(const httplib::Request& req, httplib::Response& res);
  void ControlDeleteObject(const httplib::Request& req, httplib::Response& res);
  void ControlContent(const httplib::Request& req, httplib::Response& res);

  Options options_;
  World& world_;
  Faults& faults_;
  Stats& stats_;
  Stopper& stopper_;
  std::string secret_;
  std::string base_url_;  // http://127.0.0.1:PORT
  int port_ = 0;
};

}  // namespace asanafs::emulator

#endif  // TESTS_EMULATOR_ROUTES_H_
