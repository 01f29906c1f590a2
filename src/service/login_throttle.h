// Login throttling (issue 10.6): a token bucket per client address for
// POST /api/v1/auth/login, so one address cannot make the server run
// argon2id without limit.
//
// LoginThrottle is an interface so that several server instances can later
// share one state (e.g. a table in a shared database or a cache); today
// InMemoryLoginThrottle keeps it per process, so a restart or a second
// instance starts with full buckets. The concurrency bound on password
// verifications (AccountService) protects the machine either way.
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace custvault::service {

class LoginThrottle {
 public:
  virtual ~LoginThrottle() = default;
  // Takes one login attempt for `ip` at `now_us`. Returns 0 when allowed;
  // otherwise the attempt is refused and the result is the number of
  // seconds (>= 1) until the next attempt would be allowed.
  virtual int64_t Take(const std::string& ip, int64_t now_us) = 0;
};

// Buckets of `burst` attempts refilled at `per_minute`, for at most
// `addresses_max` addresses. A full table first forgets addresses whose
// bucket has refilled (they are as good as new); if every entry is still
// in use, new addresses share one overflow bucket: memory stays bounded
// and a flood from many addresses is throttled as a whole rather than let
// through.
class InMemoryLoginThrottle final : public LoginThrottle {
 public:
  InMemoryLoginThrottle(int per_minute, int burst, size_t addresses_max);
  int64_t Take(const std::string& ip, int64_t now_us) override;
  size_t AddressesTracked();  // for tests: never above addresses_max

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_us = 0;
  };
  void Refill(Bucket& bucket, int64_t now_us) const;

  const double per_us_;
  const double burst_;
  const size_t addresses_max_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mutex_
  Bucket overflow_;                                  // guarded by mutex_
};

}  // namespace custvault::service
