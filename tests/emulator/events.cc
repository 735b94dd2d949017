#include "events.h"

#include <random>

#include "util.h"
#include "world.h"

namespace asanafs::emulator {
namespace {

bool ParseToken(const std::string& token, std::string* epoch, uint64_t* seq) {
  size_t colon = token.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= token.size()) return false;
  *epoch = token.substr(0, colon);
  try {
    size_t used = 0;
    *seq = std::stoull(token.substr(colon + 1), &used);
    return used == token.size() - colon - 1;
  } catch (...) {
    return false;
  }
}

}  // namespace

EventLog::EventLog() {
  std::random_device rd;
  epoch_ = "e" + std::to_string(rd()) + "-0";
}

void EventLog::Record(std::string action, Ref resource, Ref parent, std::set<std::string> scopes) {
  RecordedEvent e;
  e.seq = events_.size() + 1;
  e.action = std::move(action);
  e.resource = std::move(resource);
  e.parent = std::move(parent);
  e.created_ms = NowMs();
  e.scopes = std::move(scopes);
  events_.push_back(std::move(e));
}

void EventLog::Expire() {
  ++generation_;
  epoch_ = epoch_.substr(0, epoch_.rfind('-')) + "-" + std::to_string(generation_);
}

std::string EventLog::HeadToken() const { return epoch_ + ":" + std::to_string(events_.size()); }

bool EventLog::Since(const std::string& token, const std::string& resource, size_t limit,
                     std::vector<const RecordedEvent*>* out, bool* has_more,
                     std::string* next) const {
  std::string epoch;
  uint64_t seq = 0;
  if (!ParseToken(token, &epoch, &seq) || epoch != epoch_ || seq > events_.size()) return false;
  *has_more = false;
  uint64_t last = events_.size();
  for (uint64_t i = seq; i < events_.size(); ++i) {
    const RecordedEvent& e = events_[i];
    if (!e.scopes.contains(resource)) continue;
    if (out->size() == limit) {
      *has_more = true;
      last = out->back()->seq;
      break;
    }
    out->push_back(&e);
  }
  *next = epoch_ + ":" + std::to_string(last);
  return true;
}

std::set<std::string> ScopesOf(const World& world, const std::string& gid) {
  std::set<std::string> scopes{gid};
  std::string task = gid;
  if (const Attachment* a = world.FindAttachment(gid)) {
    scopes.insert(a->parent);
    task = a->parent;
  }
  // Up the subtask chain; every level's projects see the change too.
  for (int depth = 0; depth < 64; ++depth) {
    const Task* t = world.FindTask(task);
    if (t == nullptr) break;
    scopes.insert(t->gid);
    scopes.insert(t->projects.begin(), t->projects.end());
    if (t->parent.empty()) break;
    task = t->parent;
  }
  return scopes;
}

}  // namespace asanafs::emulator
