// RequestFloodGuard: a per-client-address limit for requests that carry no
// credentials (customer self-service, issue 10.8), checked before anything
// is audited, with refusals summarised instead of audited one by one.
//
// Time is cut into fixed windows of window_us (aligned to multiples of it,
// so every address shares them). An address may make requests_max
// requests per window; the rest are refused (the caller answers 429 with
// the seconds until the window ends) and only counted. When a window with
// refusals is over, one summary (refusals in all, per endpoint, addresses,
// the busiest addresses) goes to the writer: one audit entry per window
// however large the flood. The summary is written by the first request
// after the window, or by Flush (an orderly stop, tests).
//
// Memory is bounded: at most addresses_max addresses are counted per
// window; further addresses share one counter (so a flood from very many
// addresses is throttled as one), and a summary names at most
// kFloodTopAddresses of them.
//
// Time comes from Env (FakeEnv in tests). Thread safety: every method may
// be called from many threads; the writer is called without the lock held,
// from the thread whose request found the window over.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/env.h"
#include "common/status.h"

namespace custvault::service {

inline constexpr size_t kFloodTopAddresses = 10;
inline constexpr size_t kFloodAddressesMaxDefault = 10'000;
// The counter shared by addresses beyond addresses_max.
inline constexpr std::string_view kFloodOtherAddresses = "(other addresses)";

struct FloodSummary {
  int64_t window_start_us = 0;
  int64_t window_end_us = 0;
  int64_t refused = 0;   // requests refused in the window
  int64_t admitted = 0;  // requests let through in the window
  std::map<std::string, int64_t> refused_by_endpoint;
  int64_t addresses_refused = 0;  // addresses with at least one refusal
  // The addresses refused most, most first (at most kFloodTopAddresses).
  std::vector<std::pair<std::string, int64_t>> top_addresses;
};

class RequestFloodGuard {
 public:
  struct Options {
    int requests_max = 60;  // per address per window
    int64_t window_us = 60'000'000;
    size_t addresses_max = kFloodAddressesMaxDefault;
  };
  using SummaryWriter = std::function<void(const FloodSummary&)>;

  // `env` must outlive the guard.
  RequestFloodGuard(Env* env, Options options, SummaryWriter writer);

  // Counts one request from `address` to `endpoint` (a short constant
  // name). OK when the address is within its limit; kRateLimited with
  // *retry_after_seconds (if given) set to the seconds until the window
  // ends otherwise.
  Status Admit(std::string_view address, std::string_view endpoint,
               int* retry_after_seconds = nullptr);

  // Writes the current window's summary now if it refused anything (what
  // each address has used of the window stays counted).
  void Flush();

 private:
  struct Counts {
    int64_t requests = 0;
    int64_t refused = 0;
  };
  // The summary of the refusals so far, if any; resets the refusal
  // counters. Needs mutex_.
  std::optional<FloodSummary> TakeSummaryLocked(int64_t window_end_us);

  Env* env_;
  const Options options_;
  const SummaryWriter writer_;
  std::mutex mutex_;
  int64_t window_start_us_ = -1;                     // guarded
  std::unordered_map<std::string, Counts> counts_;   // guarded
  std::map<std::string, int64_t> refused_by_endpoint_;  // guarded
  int64_t admitted_ = 0;                             // guarded
};

}  // namespace custvault::service
