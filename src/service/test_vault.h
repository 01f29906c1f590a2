// A fresh, initialised data directory for tests, removed afterwards.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "service/vault.h"

namespace custvault::service {

class TestDataDir {
 public:
  explicit TestDataDir(const std::map<std::string, std::string>& environment = {}) {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("cv_vault_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
                .string();
    std::filesystem::remove_all(path_);
    Result<InitResult> init = InitDataDirectory(Env::Default(), path_, environment);
    EXPECT_TRUE(init.ok()) << init.status().ToString();
    if (init.ok()) token_ = init->bootstrap_token;
  }
  ~TestDataDir() { std::filesystem::remove_all(path_); }
  TestDataDir(const TestDataDir&) = delete;
  TestDataDir& operator=(const TestDataDir&) = delete;

  const std::string& path() const { return path_; }
  const std::string& token() const { return token_; }

 private:
  std::string path_;
  std::string token_;
};

}  // namespace custvault::service
