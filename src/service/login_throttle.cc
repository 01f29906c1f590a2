#include "service/login_throttle.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace custvault::service {

InMemoryLoginThrottle::InMemoryLoginThrottle(int per_minute, int burst, size_t addresses_max)
    : per_us_(std::max(per_minute, 1) / 60e6),
      burst_(std::max(burst, 1)),
      addresses_max_(std::max<size_t>(addresses_max, 1)) {
  overflow_.tokens = burst_;
}

void InMemoryLoginThrottle::Refill(Bucket& bucket, int64_t now_us) const {
  if (now_us > bucket.updated_us) {
    bucket.tokens = std::min(burst_, bucket.tokens + (now_us - bucket.updated_us) * per_us_);
    bucket.updated_us = now_us;
  }
}

int64_t InMemoryLoginThrottle::Take(const std::string& ip, int64_t now_us) {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(ip);
  Bucket* bucket = nullptr;
  if (it != buckets_.end()) {
    bucket = &it->second;
  } else {
    if (buckets_.size() >= addresses_max_) {
      for (auto entry = buckets_.begin(); entry != buckets_.end();) {
        Refill(entry->second, now_us);
        entry = entry->second.tokens >= burst_ ? buckets_.erase(entry) : std::next(entry);
      }
    }
    if (buckets_.size() < addresses_max_) {
      bucket = &buckets_.emplace(ip, Bucket{burst_, now_us}).first->second;
    } else {
      bucket = &overflow_;
    }
  }
  Refill(*bucket, now_us);
  if (bucket->tokens >= 1.0) {
    bucket->tokens -= 1.0;
    return 0;
  }
  const double wait_us = (1.0 - bucket->tokens) / per_us_;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait_us / 1e6)));
}

size_t InMemoryLoginThrottle::AddressesTracked() {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace custvault::service
