// SearchGuard: the search budget of each staff account (issue 10.1).
//
// An exact search by a protected value answers "is this the value?": with
// a masked phone (139****5678) in view, 10^4 searches confirm the hidden
// digits. So every account may search config.searches_max times per
// window of config.window_minutes, and at most config.misses_max of those
// may find nobody (a guess that failed). A search is charged as a miss
// before it runs and refunded once it finds someone, so racing searches
// can never overspend. Once the budget is spent, searches are refused
// (429 with the seconds until the window ends); config.lock_after_refused
// refused attempts within one window lock the account's search (423)
// until a security officer clears it. Counters and locks live in the
// database (store/search_budget_store.h): a restart or a second process
// sees the same budget and the same lock.
//
// The pure pieces (ChargeSearchAttempt, SearchResidualRisks) take the
// time and the config as arguments, so tests and a self-check call them
// directly. Thread safety: every method may be called from many threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "store/search_budget_store.h"

namespace custvault::service {

enum class SearchAdmission { kAllowed, kExhausted, kLocked };

struct SearchCharge {
  SearchAdmission admission = SearchAdmission::kAllowed;
  bool newly_locked = false;    // this attempt locked the account's search
  int retry_after_seconds = 0;  // kExhausted: until the window ends
  int64_t window_start_us = 0;  // the window charged (for RefundMiss)
};

// Lock reasons (machine words, stored and audited).
inline constexpr std::string_view kSearchLockBudgetRefusals = "budget_refusals";

// Applies one search attempt at now_us to `row` (pure): a new window when
// the old one has ended; a refusal (and perhaps the lock) when the budget
// is spent; otherwise one search and one (provisional) miss charged.
SearchCharge ChargeSearchAttempt(store::SearchBudgetRow& row, int64_t now_us,
                                 const SearchConfig& config);

// What the budget allows against one mask (issue 10.1): an attacker who
// sees the masked value and searches guesses of the hidden part.
struct MaskGuessRisk {
  std::string field;         // catalog key
  std::string mask_example;  // how the role sees it
  std::string hidden;        // what the mask hides
  double candidates = 0;     // values an attacker must search, at most
  int64_t guesses_per_window = 0;  // misses the budget allows per window
  int64_t guesses_per_day = 0;     // ... per 24 hours, without a lock
  // Chance that a guess confirms the value within one window, and within
  // a day (uniform candidates; 1.0 when the budget covers them all).
  double confirm_probability_per_window = 0;
  double confirm_probability_per_day = 0;
};

// The residual risk per masked searchable field under `config`, for the
// catalog's id_number_mask style ("first6_last6" or "first6_last4"). Pure.
std::vector<MaskGuessRisk> SearchResidualRisks(const SearchConfig& config,
                                               std::string_view id_number_mask);

class SearchGuard {
 public:
  // References must outlive the guard.
  SearchGuard(Env* env, const SearchConfig& config, store::SearchBudgetStore& budgets)
      : env_(env), config_(config), budgets_(budgets) {}

  // Charges one search of `account_id` (see ChargeSearchAttempt).
  Result<SearchCharge> Admit(const std::string& account_id);
  // The search charged in `window_start_us` found someone: refunds its miss.
  Status RefundMiss(const std::string& account_id, int64_t window_start_us);
  // Clears the account's search lock and gives it a fresh window;
  // kNotFound when its search is not locked. Returns the row as it was.
  Result<store::SearchBudgetRow> Unlock(const std::string& account_id);
  // The accounts whose search is locked (at most `limit`).
  Result<std::vector<store::SearchBudgetRow>> Locked(int limit);

 private:
  Env* env_;
  const SearchConfig& config_;
  store::SearchBudgetStore& budgets_;
};

}  // namespace custvault::service
