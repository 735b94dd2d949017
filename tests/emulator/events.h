// The emulator's event streams (test layer, tests/emulator): what GET /events returns.
// Every change to the world is recorded once with the set of resources whose stream
// shows it (the object itself, its parent tasks and their projects: events "bubble up").
// Sync tokens are "<epoch>:<seq>"; Expire() starts a new epoch, so every token in
// circulation then gets 412, as Asana does when a token is too old.
#ifndef TESTS_EMULATOR_EVENTS_H_
#define TESTS_EMULATOR_EVENTS_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace asanafs::emulator {

class World;

struct Ref {
  std::string gid;
  std::string type;  // resource_type
  std::string name;
};

struct RecordedEvent {
  uint64_t seq = 0;
  std::string action;  // added, removed, changed, deleted, undeleted
  Ref resource;
  Ref parent;  // gid empty: null
  int64_t created_ms = 0;
  std::set<std::string> scopes;  // resource gids whose stream shows this event
};

class EventLog {
 public:
  EventLog();
  void Record(std::string action, Ref resource, Ref parent, std::set<std::string> scopes);
  // Makes every token issued so far invalid.
  void Expire();
  // A token naming the current end of the log.
  std::string HeadToken() const;
  // Events after `token` for `resource`, at most `limit`; false if the token is not valid.
  bool Since(const std::string& token, const std::string& resource, size_t limit,
             std::vector<const RecordedEvent*>* out, bool* has_more, std::string* next) const;
  // A gid for a story (kept apart from the world's gids so seeds stay stable).
  std::string NewStoryGid() { return std::to_string(9100000000000000ull + ++stories_); }

 private:
  std::string epoch_;
  uint64_t generation_ = 0;
  std::vector<RecordedEvent> events_;
  uint64_t stories_ = 0;
};

// The streams that show a change to `gid` (a task, project or attachment), computed
// before the change removes it. Caller holds the world lock.
std::set<std::string> ScopesOf(const World& world, const std::string& gid);

}  // namespace asanafs::emulator

#endif  // TESTS_EMULATOR_EVENTS_H_
