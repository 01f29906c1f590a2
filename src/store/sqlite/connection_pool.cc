#include "store/sqlite/connection_pool.h"

namespace custvault::store::sqlite {

PooledConnection::~PooledConnection() {
  if (connection_ != nullptr) pool_->Release(std::move(connection_));
}

ConnectionPool::ConnectionPool(std::vector<std::unique_ptr<Connection>> connections,
                               std::chrono::milliseconds wait_timeout)
    : size_(connections.size()), wait_timeout_(wait_timeout), free_(std::move(connections)) {}

Result<PooledConnection> ConnectionPool::Acquire() {
  std::unique_lock lock(mutex_);
  if (!available_.wait_for(lock, wait_timeout_, [this] { return !free_.empty(); })) {
    return Unavailable("all database reader connections are busy; retry later");
  }
  std::unique_ptr<Connection> connection = std::move(free_.back());
  free_.pop_back();
  return PooledConnection(this, std::move(connection));
}

void ConnectionPool::Release(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(connection));
  }
  available_.notify_one();
}

}  // namespace custvault::store::sqlite
