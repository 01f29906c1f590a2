#include "service/search_guard.h"

#include <algorithm>
#include <cmath>

namespace custvault::service {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerMinute = 60 * kMicrosPerSecond;
constexpr int64_t kMinutesPerDay = 24 * 60;

// Candidates an attacker must search for each mask. Check digits are
// visible in the masked value, so only values whose check digit matches
// need searching (validation refuses the rest before the budget is
// charged, and the attacker computes them offline anyway).
constexpr double kMobileHiddenDigits = 1e4;  // 139****5678: 4 digits
// first6_last6 (110105******31002X) hides the birth year and month: about
// 100 years x 12 months, one in 11 of them matching the check digit.
constexpr double kIdYearMonthCandidates = 100.0 * 12 / 11;
// first6_last4 (110105********002X) hides the whole birth date: about
// 36,525 days in 100 years, one in 11 matching the check digit.
constexpr double kIdBirthDateCandidates = 36'525.0 / 11;
// 诸葛某: the given name. Given names in use for one surname run to some
// thousands; the attacker tries the common ones first, so the real chance
// is front-loaded (the attack found one in 175 guesses).
constexpr double kGivenNameCandidates = 3'000;
// 622*********1234 (16 digits): 9 hidden digits, one in 10 passing Luhn.
constexpr double kBankCardCandidates = 1e9 / 10;

MaskGuessRisk Risk(std::string field, std::string example, std::string hidden, double candidates,
                   const SearchConfig& config) {
  MaskGuessRisk risk;
  risk.field = std::move(field);
  risk.mask_example = std::move(example);
  risk.hidden = std::move(hidden);
  risk.candidates = candidates;
  risk.guesses_per_window = config.misses_max;
  const int64_t windows_per_day =
      std::max<int64_t>(1, (kMinutesPerDay + config.window_minutes - 1) / config.window_minutes);
  risk.guesses_per_day = int64_t{config.misses_max} * windows_per_day;
  // The value is among the candidates: k distinct guesses find it with
  // probability k / n (plus the final search that confirms it).
  risk.confirm_probability_per_window =
      std::min(1.0, static_cast<double>(risk.guesses_per_window + 1) / candidates);
  risk.confirm_probability_per_day =
      std::min(1.0, static_cast<double>(risk.guesses_per_day + 1) / candidates);
  return risk;
}

}  // namespace

SearchCharge ChargeSearchAttempt(store::SearchBudgetRow& row, int64_t now_us,
                                 const SearchConfig& config) {
  SearchCharge charge;
  if (row.locked_at_us != 0) {
    charge.admission = SearchAdmission::kLocked;
    return charge;
  }
  const int64_t window_us = int64_t{config.window_minutes} * kMicrosPerMinute;
  // A window ends after window_us; a clock that stepped back behind the
  // window's start also starts a new one (never a negative wait).
  if (row.window_start_us == 0 || now_us >= row.window_start_us + window_us ||
      now_us < row.window_start_us) {
    row.window_start_us = now_us;
    row.searches = 0;
    row.misses = 0;
    row.refused = 0;
  }
  charge.window_start_us = row.window_start_us;
  if (row.searches >= config.searches_max || row.misses >= config.misses_max) {
    ++row.refused;
    if (row.refused >= config.lock_after_refused) {
      row.locked_at_us = now_us;
      row.lock_reason = std::string(kSearchLockBudgetRefusals);
      charge.admission = SearchAdmission::kLocked;
      charge.newly_locked = true;
      return charge;
    }
    charge.admission = SearchAdmission::kExhausted;
    const int64_t wait_us = row.window_start_us + window_us - now_us;
    charge.retry_after_seconds = static_cast<int>(
        std::max<int64_t>(1, (wait_us + kMicrosPerSecond - 1) / kMicrosPerSecond));
    return charge;
  }
  ++row.searches;
  ++row.misses;  // refunded by RefundMiss when the search finds someone
  return charge;
}

std::vector<MaskGuessRisk> SearchResidualRisks(const SearchConfig& config,
                                               std::string_view id_number_mask) {
  std::vector<MaskGuessRisk> risks;
  risks.push_back(Risk("phone", "139****5678", "4 middle digits of a mobile number",
                       kMobileHiddenDigits, config));
  if (id_number_mask == "first6_last4") {
    risks.push_back(Risk("id_number", "110105********002X", "birth date (year, month, day)",
                         kIdBirthDateCandidates, config));
  } else {
    risks.push_back(Risk("id_number", "110105******31002X", "birth year and month",
                         kIdYearMonthCandidates, config));
  }
  risks.push_back(
      Risk("name", "诸葛某", "given name (surname shown)", kGivenNameCandidates, config));
  risks.push_back(Risk("bank_account", "622*********1234", "middle digits of a 16-digit card",
                       kBankCardCandidates, config));
  return risks;
}

Result<SearchCharge> SearchGuard::Admit(const std::string& account_id) {
  const int64_t now_us = env_->NowMicros();
  SearchCharge charge;
  RETURN_IF_ERROR(budgets_
                      .Modify(account_id,
                              [&](store::SearchBudgetRow& row) {
                                charge = ChargeSearchAttempt(row, now_us, config_);
                                return Status::Ok();
                              })
                      .status());
  return charge;
}

Status SearchGuard::RefundMiss(const std::string& account_id, int64_t window_start_us) {
  return budgets_
      .Modify(account_id,
              [&](store::SearchBudgetRow& row) {
                // Only in the window it was charged in: a new window
                // starts with nothing to refund.
                if (row.window_start_us == window_start_us && row.misses > 0) --row.misses;
                return Status::Ok();
              })
      .status();
}

Result<store::SearchBudgetRow> SearchGuard::Unlock(const std::string& account_id) {
  store::SearchBudgetRow before;
  RETURN_IF_ERROR(budgets_
                      .Modify(account_id,
                              [&](store::SearchBudgetRow& row) -> Status {
                                if (row.locked_at_us == 0) {
                                  return NotFound("this account's search is not locked");
                                }
                                before = row;
                                row.locked_at_us = 0;
                                row.lock_reason.clear();
                                row.window_start_us = 0;  // a fresh budget at the next search
                                row.searches = 0;
                                row.misses = 0;
                                row.refused = 0;
                                return Status::Ok();
                              })
                      .status());
  return before;
}

Result<std::vector<store::SearchBudgetRow>> SearchGuard::Locked(int limit) {
  return budgets_.ListLocked(limit);
}

}  // namespace custvault::service
