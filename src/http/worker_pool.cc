#include "http/worker_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

namespace custvault::http {

WorkerPool::WorkerPool(int thread_count, int queue_max)
    : queue_max_(static_cast<size_t>(std::max(queue_max, 1))) {
  const int count = std::max(thread_count, 1);
  threads_.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    threads_.emplace_back([this] { RunWorker(); });
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::TrySubmit(Task task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutting_down_ || queue_.size() >= queue_max_) return false;
    queue_.push_back(std::move(task));
  }
  task_ready_.notify_one();
  return true;
}

void WorkerPool::Shutdown() {
  std::lock_guard<std::mutex> join_lock(join_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutting_down_ = true;
  }
  task_ready_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

size_t WorkerPool::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

void WorkerPool::RunWorker() {
  for (;;) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Drain before leaving: a queued request still gets its answer.
      task_ready_.wait(lock, [this] { return shutting_down_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    try {
      task();
    } catch (...) {
      // The router already turns handler exceptions into 500s; this is the
      // last line so that one bad task cannot take a worker thread down.
      spdlog::error("worker task threw an exception");
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --running_;
    }
  }
}

}  // namespace custvault::http
