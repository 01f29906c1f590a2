// SqliteSelfServiceStore: the SelfServiceStore on the table of migration 5,
// in the same SQLite file as the customers and through the same
// connections (writes through SqliteStore::WithWriter, reads from its
// reader pool), like the identity store.
#pragma once

#include "store/self_service_store.h"
#include "store/sqlite/sqlite_store.h"

namespace custvault::store::sqlite {

class SqliteSelfServiceStore final : public SelfServiceStore {
 public:
  // `base` must outlive this object.
  explicit SqliteSelfServiceStore(SqliteStore& base) : base_(base) {}

  Result<ChallengeInsertOutcome> InsertChallengeWithinLimits(
      const ChallengeRecord& challenge, const ChallengeLimits& limits) override;
  Result<ChallengeRecord> CountAttempt(const std::string& id, int64_t now_us,
                                       int attempts_max) override;
  Status IssueToken(const std::string& id, const std::string& token_hash, int64_t verified_at_us,
                    int64_t token_expires_at_us) override;
  Result<ChallengeRecord> ConsumeToken(const std::string& token_hash, int64_t now_us) override;
  Result<ChallengeRecord> GetChallenge(const std::string& id) override;

 private:
  // Runs `work` in one write transaction on the shared writer.
  Status Write(const std::function<Status(Connection&)>& work);

  SqliteStore& base_;
};

}  // namespace custvault::store::sqlite
