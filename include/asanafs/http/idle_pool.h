// http/idle_pool: the idle-handle pool of CurlTransport, apart so its
// trimming can be tested with made-up times. Not synchronized (the transport
// holds its mutex).
//
// Handles are reused most recently released first, so the ones that wait
// longest are those a burst of concurrent requests made and the steady load
// no longer needs: they are closed after `max_age` idle (with the
// connections they keep), and at most `max_size` are kept. The pool follows
// the recent load instead of holding the highest concurrency ever seen.
#ifndef ASANAFS_HTTP_IDLE_POOL_H_
#define ASANAFS_HTTP_IDLE_POOL_H_

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace asanafs::http {

template <typename Handle>
class IdlePool {
 public:
  using Time = std::chrono::steady_clock::time_point;

  IdlePool(size_t max_size, std::chrono::milliseconds max_age)
      : max_size_(max_size), max_age_(max_age) {}

  // The most recently released handle, if any.
  std::optional<Handle> Take() {
    if (idle_.empty()) {
      return std::nullopt;
    }
    Handle h = std::move(idle_.back().handle);
    idle_.pop_back();
    return h;
  }

  // Keeps `h` (released at `now`) unless the pool is full. Returns what is
  // dropped: handles idle longer than max_age, or `h` itself when full, for
  // the caller to close outside its lock.
  std::vector<Handle> Put(Handle h, Time now) {
    std::vector<Handle> dropped = Trim(now);
    if (idle_.size() < max_size_) {
      idle_.push_back({std::move(h), now});
    } else {
      dropped.push_back(std::move(h));
    }
    return dropped;
  }

  // Removes and returns the handles idle since before now - max_age.
  std::vector<Handle> Trim(Time now) {
    std::vector<Handle> dropped;
    while (!idle_.empty() && now - idle_.front().since > max_age_) {
      dropped.push_back(std::move(idle_.front().handle));
      idle_.pop_front();
    }
    return dropped;
  }

  size_t size() const { return idle_.size(); }
  void clear() { idle_.clear(); }

 private:
  struct Entry {
    Handle handle;
    Time since;
  };
  size_t max_size_;
  std::chrono::milliseconds max_age_;
  std::deque<Entry> idle_;  // oldest release first
};

}  // namespace asanafs::http

#endif  // ASANAFS_HTTP_IDLE_POOL_H_
