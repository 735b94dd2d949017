// util/clock: time as a seam, so TTLs, backoff and URL expiry are testable.
// Layer: util.
#ifndef ASANAFS_UTIL_CLOCK_H_
#define ASANAFS_UTIL_CLOCK_H_

#include <chrono>
#include <thread>

namespace asanafs {

using SteadyTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime SteadyNow() const = 0;
  virtual SystemTime SystemNow() const = 0;
  // Blocks the calling thread for `d` (a fake clock advances instead).
  virtual void SleepFor(std::chrono::milliseconds d) = 0;
};

class RealClock : public Clock {
 public:
  SteadyTime SteadyNow() const override { return std::chrono::steady_clock::now(); }
  SystemTime SystemNow() const override { return std::chrono::system_clock::now(); }
  void SleepFor(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};

}  // namespace asanafs

#endif  // ASANAFS_UTIL_CLOCK_H_
