// WorkerPool: a fixed number of threads running tasks from a bounded queue.
//
// The HTTP server hands every parsed request to this pool so that a slow
// handler (database, Argon2, a large export) occupies a worker, never an I/O
// thread. The queue has a hard limit: when it is full, TrySubmit refuses the
// task at once and the caller answers 503 with Retry-After instead of letting
// the backlog (and its memory) grow without bound.
//
// Thread safety: every member may be called from any thread. Tasks must not
// call Shutdown (a worker cannot join itself).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace custvault::http {

class WorkerPool {
 public:
  using Task = std::function<void()>;

  // Starts `thread_count` threads (at least 1); at most `queue_max` tasks
  // (at least 1) may wait for a free thread.
  WorkerPool(int thread_count, int queue_max);
  ~WorkerPool();  // Shutdown()

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues the task; false (task not taken) when the queue is full or the
  // pool is shutting down.
  [[nodiscard]] bool TrySubmit(Task task);

  // Refuses new tasks, runs every task already queued, joins the threads.
  // Idempotent.
  void Shutdown();

  // Tasks waiting (not counting the ones running).
  size_t queued() const;
  // Tasks running right now.
  size_t running() const;

 private:
  void RunWorker();

  const size_t queue_max_;
  mutable std::mutex mutex_;
  std::condition_variable task_ready_;
  std::deque<Task> queue_;
  size_t running_ = 0;
  bool shutting_down_ = false;
  std::vector<std::thread> threads_;
  std::mutex join_mutex_;  // serialises concurrent Shutdown calls
};

}  // namespace custvault::http
