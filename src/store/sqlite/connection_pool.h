// A small bounded pool of read-only connections.
//
// Acquire hands out a free connection or waits for one up to a timeout, then
// fails with kUnavailable (the caller maps it to 503 + Retry-After): the
// number of concurrent readers is a hard limit, never a queue that grows.
// Thread safety: all methods may be called from many threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "store/sqlite/connection.h"

namespace custvault::store::sqlite {

class ConnectionPool;

// A borrowed connection, returned to the pool on destruction.
class PooledConnection {
 public:
  PooledConnection(ConnectionPool* pool, std::unique_ptr<Connection> connection)
      : pool_(pool), connection_(std::move(connection)) {}
  PooledConnection(PooledConnection&&) noexcept = default;
  PooledConnection& operator=(PooledConnection&&) = delete;
  ~PooledConnection();

  Connection& operator*() { return *connection_; }
  Connection* operator->() { return connection_.get(); }

 private:
  ConnectionPool* pool_;
  std::unique_ptr<Connection> connection_;
};

class ConnectionPool {
 public:
  explicit ConnectionPool(std::vector<std::unique_ptr<Connection>> connections,
                          std::chrono::milliseconds wait_timeout);
  // Every PooledConnection must be gone before the pool is destroyed.
  ~ConnectionPool() = default;

  Result<PooledConnection> Acquire();
  size_t size() const { return size_; }

 private:
  friend class PooledConnection;
  void Release(std::unique_ptr<Connection> connection);

  const size_t size_;
  const std::chrono::milliseconds wait_timeout_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> free_;
};

}  // namespace custvault::store::sqlite
