// SelfServiceStore: the challenges of customer self-service (R-SELF-1), the
// only door to their table (migration 5). Like Store, no SQL above store/.
//
// One row per started challenge, matching or not: the customer id as typed
// (it may name no customer), the client address, the keyed MAC of the
// one-time code with its salt, the attempt count, and once verified the
// SM3 hash of the change token. Never a phone number, an ID number, a code
// or a token in plain. Rows are the rate-limit counters too, so the limits
// hold across processes sharing the database.
//
// Thread safety: every method may be called from many threads (and
// processes) at once. The methods that decide (insert within limits, count
// an attempt, issue or consume a token) are each one write transaction, so
// two racing callers can never both pass a limit or both use one token.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "store/store.h"

namespace custvault::store {

// Limits checked before any write (kInvalidArgument above them).
inline constexpr size_t kChallengeIdBytesMax = 64;
inline constexpr size_t kChallengeCustomerIdBytesMax = 32;
inline constexpr size_t kChallengeIpBytesMax = 64;
inline constexpr size_t kChallengeSecretBytesMax = 64;  // salt, MAC, token hash
// Rows older than this are deleted (a few at a time, by later inserts):
// the rate windows are an hour, codes live minutes, tokens ten minutes.
inline constexpr int64_t kChallengeRetentionUs = 24LL * 3600 * 1'000'000;

struct ChallengeRecord {
  std::string id;
  std::string customer_id;  // as typed by the caller; may name no customer
  std::string ip;           // the client address (rate limit per IP)
  int64_t created_at_us = 0;
  int64_t expires_at_us = 0;  // the code is usable while now < expires_at_us
  // true: the details did not match (or the customer does not exist); no
  // code was sent and the challenge can never succeed.
  bool decoy = false;
  std::string code_salt;         // random, per challenge
  std::string code_mac;          // keyed MAC of (id, salt, code)
  uint32_t mac_key_version = 0;  // version of the MAC's domain key
  int attempts = 0;              // verify attempts counted so far
  int64_t verified_at_us = 0;    // 0: not verified
  std::string token_hash;        // SM3 of the change token; "" until verified
  int64_t token_expires_at_us = 0;
  int64_t token_used_at_us = 0;  // 0: not used
};

// The per-customer and per-IP limits of one start: at most
// `per_customer_max` starts for the customer id and `per_ip_max` from the
// IP with created_at_us > window_start_us.
struct ChallengeLimits {
  int64_t window_start_us = 0;
  int per_customer_max = 0;
  int per_ip_max = 0;
};

struct ChallengeInsertOutcome {
  enum class Refused { kNone, kPerIp, kPerCustomer };
  Refused refused = Refused::kNone;
  // When refused: created_at_us of the counted start whose leaving the
  // window makes room for one more (the caller adds the window length to
  // say when to retry).
  int64_t oldest_counted_at_us = 0;
};

class SelfServiceStore {
 public:
  virtual ~SelfServiceStore() = default;

  // Counts the IP's and the customer id's starts in the window and inserts
  // the challenge only if both are under their limits (the IP is checked
  // first), in one write transaction; also deletes a few rows older than
  // kChallengeRetentionUs. kConflict if the id exists.
  virtual Result<ChallengeInsertOutcome> InsertChallengeWithinLimits(
      const ChallengeRecord& challenge, const ChallengeLimits& limits) = 0;

  // Counts one verify attempt, atomically, if the challenge may still be
  // tried: not expired at now_us, fewer than attempts_max attempts, not yet
  // verified. Returns the row after the count. kNotFound otherwise (unknown,
  // expired, used up or verified: the caller answers all alike).
  virtual Result<ChallengeRecord> CountAttempt(const std::string& id, int64_t now_us,
                                               int attempts_max) = 0;

  // Marks the challenge verified and stores the token's hash, only if it
  // is not verified yet (so two racing right codes get one token);
  // kNotFound otherwise.
  virtual Status IssueToken(const std::string& id, const std::string& token_hash,
                            int64_t verified_at_us, int64_t token_expires_at_us) = 0;

  // Uses the token once: marks it used and returns its challenge, only if
  // it exists, is unused and now_us < its expiry; kNotFound otherwise.
  virtual Result<ChallengeRecord> ConsumeToken(const std::string& token_hash, int64_t now_us) = 0;

  // The row as it is (for the audit's reason of a refusal and for tests);
  // kNotFound if absent.
  virtual Result<ChallengeRecord> GetChallenge(const std::string& id) = 0;
};

// The SelfServiceStore on the SQLite file of `store` (which must come from
// OpenSqliteStore and outlive the result), sharing its connections.
Result<std::unique_ptr<SelfServiceStore>> OpenSqliteSelfServiceStore(Store& store);

}  // namespace custvault::store
