// IdlePool: the trimming of CurlTransport's idle easy handles (issue 5's
// soak: sockets grew with the highest concurrency ever seen).
#include "asanafs/http/idle_pool.h"

#include <gtest/gtest.h>

namespace asanafs::http {
namespace {

using std::chrono::milliseconds;
using Pool = IdlePool<int>;

Pool::Time At(int ms) { return Pool::Time(milliseconds(ms)); }

TEST(IdlePoolTest, ReusesTheMostRecentlyReleasedHandle) {
  Pool pool(4, milliseconds(1000));
  EXPECT_TRUE(pool.Put(1, At(0)).empty());
  EXPECT_TRUE(pool.Put(2, At(10)).empty());
  EXPECT_EQ(pool.Take(), 2);
  EXPECT_EQ(pool.Take(), 1);
  EXPECT_EQ(pool.Take(), std::nullopt);
}

TEST(IdlePoolTest, KeepsAtMostMaxSize) {
  Pool pool(2, milliseconds(1000));
  pool.Put(1, At(0));
  pool.Put(2, At(0));
  EXPECT_EQ(pool.Put(3, At(0)), std::vector<int>{3});
  EXPECT_EQ(pool.size(), 2u);
}

TEST(IdlePoolTest, HandlesLeftOverFromABurstAreClosedOnceIdleTooLong) {
  Pool pool(16, milliseconds(1000));
  for (int h = 1; h <= 8; ++h) {  // a burst: eight requests at once
    pool.Put(h, At(0));
  }
  // Then a steady load of one request at a time reuses the newest handle.
  std::vector<int> dropped;
  for (int t = 100; t <= 1500; t += 100) {
    auto h = pool.Take();
    ASSERT_TRUE(h.has_value());
    for (int d : pool.Put(*h, At(t))) {
      dropped.push_back(d);
    }
  }
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(dropped, (std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(pool.Take(), 8);
}

TEST(IdlePoolTest, TrimAloneDropsOnlyHandlesPastTheAge) {
  Pool pool(16, milliseconds(1000));
  pool.Put(1, At(0));
  pool.Put(2, At(600));
  EXPECT_TRUE(pool.Trim(At(1000)).empty());
  EXPECT_EQ(pool.Trim(At(1001)), std::vector<int>{1});
  EXPECT_EQ(pool.Trim(At(1601)), std::vector<int>{2});
  EXPECT_EQ(pool.size(), 0u);
}

}  // namespace
}  // namespace asanafs::http
