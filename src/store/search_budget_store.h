// SearchBudgetStore: each staff account's search budget (issue 10.1), the
// only door to its table (migration 8). Like Store, no SQL above store/.
//
// One row per account that has searched: the start of its current window,
// the searches and misses counted in it, the searches refused for a spent
// budget, and, once locked, when and why. Never a searched value. Rows live
// in the database so a lock holds across restarts and every process
// sharing the database sees the same budget.
//
// Thread safety: every method may be called from many threads (and
// processes) at once; Modify is one write transaction, so two racing
// searches can never both take the last unit of a budget.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace custvault::store {

inline constexpr size_t kSearchBudgetAccountBytesMax = 64;
inline constexpr size_t kSearchLockReasonBytesMax = 64;

struct SearchBudgetRow {
  std::string account_id;
  int64_t window_start_us = 0;
  int64_t searches = 0;  // charged in the window (a miss is charged as a search too)
  int64_t misses = 0;    // searches in the window that found nobody
  int64_t refused = 0;   // attempts in the window refused for a spent budget
  int64_t locked_at_us = 0;  // 0: search not locked
  std::string lock_reason;   // a short machine reason; "" when not locked
};

class SearchBudgetStore {
 public:
  virtual ~SearchBudgetStore() = default;

  // Reads the account's row (all zero when it has none), lets `change`
  // modify it and writes it back, in one write transaction. `change` may
  // not alter account_id; an error from it writes nothing and is returned.
  // Returns the row as written.
  virtual Result<SearchBudgetRow> Modify(
      const std::string& account_id,
      const std::function<Status(SearchBudgetRow&)>& change) = 0;

  // The account's row (all zero when it has none).
  virtual Result<SearchBudgetRow> Get(const std::string& account_id) = 0;

  // Accounts whose search is locked, oldest lock first, at most `limit`.
  virtual Result<std::vector<SearchBudgetRow>> ListLocked(int limit) = 0;
};

// The SearchBudgetStore on the SQLite file of `store` (which must come from
// OpenSqliteStore and outlive the result), sharing its connections.
Result<std::unique_ptr<SearchBudgetStore>> OpenSqliteSearchBudgetStore(Store& store);

}  // namespace custvault::store
