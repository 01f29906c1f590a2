#include "service/request_flood_guard.h"

#include <algorithm>

namespace custvault::service {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;

int64_t WindowStart(int64_t now_us, int64_t window_us) {
  // Floor division: a clock before 1970 still lands in the right window.
  int64_t start = now_us / window_us * window_us;
  if (start > now_us) start -= window_us;
  return start;
}

}  // namespace

RequestFloodGuard::RequestFloodGuard(Env* env, Options options, SummaryWriter writer)
    : env_(env), options_(options), writer_(std::move(writer)) {}

std::optional<FloodSummary> RequestFloodGuard::TakeSummaryLocked(int64_t window_end_us) {
  std::optional<FloodSummary> summary;
  int64_t refused = 0;
  for (const auto& [endpoint, count] : refused_by_endpoint_) refused += count;
  if (refused > 0) {
    summary.emplace();
    summary->window_start_us = window_start_us_;
    summary->window_end_us = window_end_us;
    summary->refused = refused;
    summary->admitted = admitted_;
    summary->refused_by_endpoint = refused_by_endpoint_;
    std::vector<std::pair<std::string, int64_t>> refused_addresses;
    for (const auto& [address, counts] : counts_) {
      if (counts.refused > 0) refused_addresses.emplace_back(address, counts.refused);
    }
    summary->addresses_refused = static_cast<int64_t>(refused_addresses.size());
    const size_t top = std::min(kFloodTopAddresses, refused_addresses.size());
    std::partial_sort(refused_addresses.begin(), refused_addresses.begin() + static_cast<long>(top),
                      refused_addresses.end(), [](const auto& a, const auto& b) {
                        return a.second != b.second ? a.second > b.second : a.first < b.first;
                      });
    refused_addresses.resize(top);
    summary->top_addresses = std::move(refused_addresses);
  }
  // Refusals are summarised once; what each address has used of the
  // window stays counted (Admit clears it when a new window starts).
  for (auto& [address, counts] : counts_) counts.refused = 0;
  refused_by_endpoint_.clear();
  admitted_ = 0;
  return summary;
}

Status RequestFloodGuard::Admit(std::string_view address, std::string_view endpoint,
                                int* retry_after_seconds) {
  const int64_t now_us = env_->NowMicros();
  const int64_t start_us = WindowStart(now_us, options_.window_us);
  std::optional<FloodSummary> closed;
  bool refused = false;
  {
    std::lock_guard lock(mutex_);
    if (start_us != window_start_us_) {
      if (window_start_us_ >= 0) closed = TakeSummaryLocked(window_start_us_ + options_.window_us);
      counts_.clear();
      window_start_us_ = start_us;
    }
    auto found = counts_.find(std::string(address));
    if (found == counts_.end()) {
      const std::string key = counts_.size() < options_.addresses_max
                                  ? std::string(address)
                                  : std::string(kFloodOtherAddresses);
      found = counts_.try_emplace(key).first;
    }
    Counts& counts = found->second;
    if (counts.requests >= options_.requests_max) {
      ++counts.refused;
      ++refused_by_endpoint_[std::string(endpoint)];
      refused = true;
    } else {
      ++counts.requests;
      ++admitted_;
    }
  }
  if (closed && writer_) writer_(*closed);
  if (!refused) return Status::Ok();
  if (retry_after_seconds != nullptr) {
    const int64_t wait_us = start_us + options_.window_us - now_us;
    *retry_after_seconds = static_cast<int>(
        std::max<int64_t>(1, (wait_us + kMicrosPerSecond - 1) / kMicrosPerSecond));
  }
  return Status(ErrorCode::kRateLimited,
                "too many requests from this address; try again later");
}

void RequestFloodGuard::Flush() {
  std::optional<FloodSummary> closed;
  {
    std::lock_guard lock(mutex_);
    if (window_start_us_ < 0) return;
    closed = TakeSummaryLocked(env_->NowMicros());
  }
  if (closed && writer_) writer_(*closed);
}

}  // namespace custvault::service
