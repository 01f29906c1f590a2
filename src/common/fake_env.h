// FakeEnv: an Env for tests. Time stands still until the test moves it;
// files go to the real file system (tests use their own temporary folders)
// unless a failure is injected.
#pragma once

#include <atomic>
#include <mutex>

#include "common/env.h"

namespace custvault {

class FakeEnv final : public Env {
 public:
  explicit FakeEnv(int64_t now_micros = 1'796'000'000'000'000) : now_micros_(now_micros) {}

  void SetNowMicros(int64_t now) { now_micros_ = now; }
  void AdvanceMicros(int64_t delta) { now_micros_ += delta; }
  // The next n calls to WriteFileAtomic fail as a full disk would.
  void FailNextWrites(int n) { failing_writes_ = n; }

  int64_t NowMicros() override { return now_micros_; }
  Status RandomBytes(std::span<uint8_t> out) override { return Env::Default()->RandomBytes(out); }
  Result<std::string> ReadFile(const std::string& path) override {
    return Env::Default()->ReadFile(path);
  }
  Status WriteFileAtomic(const std::string& path, std::string_view data, int mode,
                         bool exclusive) override {
    if (failing_writes_ > 0) {
      --failing_writes_;
      return Internal("injected write failure: " + path);
    }
    return Env::Default()->WriteFileAtomic(path, data, mode, exclusive);
  }
  Result<int> FileMode(const std::string& path) override { return Env::Default()->FileMode(path); }
  bool FileExists(const std::string& path) override { return Env::Default()->FileExists(path); }
  Status RemoveFile(const std::string& path) override { return Env::Default()->RemoveFile(path); }
  Status CreateDirectories(const std::string& path, int mode) override {
    return Env::Default()->CreateDirectories(path, mode);
  }

 private:
  std::atomic<int64_t> now_micros_;
  std::atomic<int> failing_writes_{0};
};

}  // namespace custvault
