#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace custvault::http {
namespace {

// A gate the tasks wait on, so tests decide when a worker is free again.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

void WaitUntil(const std::function<bool()>& condition) {
  // A guard against a hang, not a timing expectation (Issue 11.12).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!condition() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(WorkerPoolTest, RunsSubmittedTasks) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(2, 16);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(pool.TrySubmit([&] { ++done; }));
    pool.Shutdown();
  }
  EXPECT_EQ(done.load(), 10);
}

TEST(WorkerPoolTest, RefusesWhenTheQueueIsFull) {
  Gate gate;
  WorkerPool pool(1, 2);
  ASSERT_TRUE(pool.TrySubmit([&] { gate.Wait(); }));
  WaitUntil([&] { return pool.running() == 1; });
  ASSERT_EQ(pool.running(), 1u);
  EXPECT_TRUE(pool.TrySubmit([] {}));
  EXPECT_TRUE(pool.TrySubmit([] {}));
  EXPECT_EQ(pool.queued(), 2u);
  EXPECT_FALSE(pool.TrySubmit([] {}));  // queue_max reached
  gate.Open();
  pool.Shutdown();
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(WorkerPoolTest, ShutdownDrainsQueuedTasksThenRefusesNewOnes) {
  Gate gate;
  std::atomic<int> done{0};
  WorkerPool pool(1, 8);
  ASSERT_TRUE(pool.TrySubmit([&] {
    gate.Wait();
    ++done;
  }));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.TrySubmit([&] { ++done; }));
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    gate.Open();
  });
  pool.Shutdown();
  opener.join();
  EXPECT_EQ(done.load(), 6);
  EXPECT_FALSE(pool.TrySubmit([] {}));
  pool.Shutdown();  // idempotent
}

TEST(WorkerPoolTest, ATaskThatThrowsDoesNotKillItsWorker) {
  std::atomic<int> done{0};
  WorkerPool pool(1, 8);
  ASSERT_TRUE(pool.TrySubmit([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(pool.TrySubmit([&] { ++done; }));
  pool.Shutdown();
  EXPECT_EQ(done.load(), 1);
}

}  // namespace
}  // namespace custvault::http
