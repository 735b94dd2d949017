// util/priority: marks the current thread's work as background, so that the
// request limiter (http/limiter) serves waiting foreground requests first.
#ifndef ASANAFS_UTIL_PRIORITY_H_
#define ASANAFS_UTIL_PRIORITY_H_

namespace asanafs {

// While one lives, the requests its thread sends are background work (listing
// prefetch): they take a slot only when no foreground request is waiting.
class BackgroundPriority {
 public:
  BackgroundPriority();
  ~BackgroundPriority();
  BackgroundPriority(const BackgroundPriority&) = delete;
  BackgroundPriority& operator=(const BackgroundPriority&) = delete;
  static bool active();

 private:
  bool previous_;
};

}  // namespace asanafs

#endif  // ASANAFS_UTIL_PRIORITY_H_
