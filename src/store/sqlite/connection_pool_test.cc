#include "store/sqlite/connection_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

namespace custvault::store::sqlite {
namespace {

std::unique_ptr<Connection> OpenScratch() {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("cv_pool_test_" + std::to_string(::getpid()) + ".db"))
                               .string();
  Result<std::unique_ptr<Connection>> connection =
      Connection::Open({.path = path, .read_only = false});
  EXPECT_TRUE(connection.ok()) << connection.status().ToString();
  std::filesystem::remove(path);  // the open handle keeps it alive
  return std::move(connection).value();
}

TEST(ConnectionPoolTest, ExhaustedPoolAnswersUnavailableAfterTheTimeout) {
  std::vector<std::unique_ptr<Connection>> connections;
  connections.push_back(OpenScratch());
  connections.push_back(OpenScratch());
  ConnectionPool pool(std::move(connections), std::chrono::milliseconds(80));

  Result<PooledConnection> first = pool.Acquire();
  Result<PooledConnection> second = pool.Acquire();
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());

  const auto start = std::chrono::steady_clock::now();
  Result<PooledConnection> third = pool.Acquire();
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), ErrorCode::kUnavailable);
  EXPECT_GE(waited, std::chrono::milliseconds(70));
}

TEST(ConnectionPoolTest, WaiterGetsAConnectionReleasedWhileItWaits) {
  std::vector<std::unique_ptr<Connection>> connections;
  connections.push_back(OpenScratch());
  ConnectionPool pool(std::move(connections), std::chrono::milliseconds(5000));
  std::optional<Result<PooledConnection>> held(pool.Acquire());
  ASSERT_TRUE(held->ok());
  std::thread releaser([&held] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    held.reset();
  });
  Result<PooledConnection> next = pool.Acquire();
  releaser.join();
  EXPECT_TRUE(next.ok()) << next.status().ToString();
}

}  // namespace
}  // namespace custvault::store::sqlite
