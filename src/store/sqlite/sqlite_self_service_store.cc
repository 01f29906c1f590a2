#include "store/sqlite/sqlite_self_service_store.h"

namespace custvault::store::sqlite {
namespace {

// ---- SQL: constants only; every value is a bound parameter ----
#define CHALLENGE_COLUMNS                                                           \
  "id, customer_id, ip, created_at_us, expires_at_us, decoy, code_salt, code_mac, " \
  "mac_key_version, attempts, verified_at_us, token_hash, token_expires_at_us, token_used_at_us"

constexpr char kInsertChallenge[] =
    "INSERT INTO self_service_challenges (id, customer_id, ip, created_at_us, expires_at_us, "
    "decoy, code_salt, code_mac, mac_key_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr char kCountByIp[] =
    "SELECT count(*) FROM self_service_challenges WHERE ip = ?1 AND created_at_us > ?2";
constexpr char kCountByCustomer[] =
    "SELECT count(*) FROM self_service_challenges WHERE customer_id = ?1 AND created_at_us > ?2";
// The start whose leaving the window makes room: with n counted and a
// limit of m, the (n - m)-th oldest (0-based).
constexpr char kOldestByIp[] =
    "SELECT created_at_us FROM self_service_challenges WHERE ip = ?1 AND created_at_us > ?2 "
    "ORDER BY created_at_us LIMIT 1 OFFSET ?3";
constexpr char kOldestByCustomer[] =
    "SELECT created_at_us FROM self_service_challenges WHERE customer_id = ?1 "
    "AND created_at_us > ?2 ORDER BY created_at_us LIMIT 1 OFFSET ?3";
// A few old rows per insert: the table stays about a day long without a
// separate job, and no insert does unbounded work.
constexpr char kPruneOld[] =
    "DELETE FROM self_service_challenges WHERE rowid IN (SELECT rowid FROM "
    "self_service_challenges WHERE created_at_us < ?1 ORDER BY created_at_us LIMIT 16)";
constexpr char kCountAttempt[] =
    "UPDATE self_service_challenges SET attempts = attempts + 1 "
    "WHERE id = ?1 AND expires_at_us > ?2 AND attempts < ?3 AND verified_at_us = 0 "
    "RETURNING " CHALLENGE_COLUMNS;
constexpr char kIssueToken[] =
    "UPDATE self_service_challenges SET verified_at_us = ?2, token_hash = ?3, "
    "token_expires_at_us = ?4 WHERE id = ?1 AND verified_at_us = 0";
constexpr char kConsumeToken[] =
    "UPDATE self_service_challenges SET token_used_at_us = ?2 "
    "WHERE token_hash = ?1 AND token_used_at_us = 0 AND token_expires_at_us > ?2 "
    "RETURNING " CHALLENGE_COLUMNS;
constexpr char kSelectChallenge[] =
    "SELECT " CHALLENGE_COLUMNS " FROM self_service_challenges WHERE id = ?1";

Status CheckText(std::string_view what, std::string_view value, size_t max_bytes) {
  if (value.empty() || value.size() > max_bytes) {
    return InvalidArgument(std::string(what) + " must be 1.." + std::to_string(max_bytes) +
                           " bytes");
  }
  return Status::Ok();
}

ChallengeRecord ReadChallengeRow(const Statement& row) {
  ChallengeRecord c;
  c.id = row.ColumnBytes(0);
  c.customer_id = row.ColumnBytes(1);
  c.ip = row.ColumnBytes(2);
  c.created_at_us = row.ColumnInt64(3);
  c.expires_at_us = row.ColumnInt64(4);
  c.decoy = row.ColumnInt64(5) != 0;
  c.code_salt = row.ColumnBytes(6);
  c.code_mac = row.ColumnBytes(7);
  c.mac_key_version = static_cast<uint32_t>(row.ColumnInt64(8));
  c.attempts = static_cast<int>(row.ColumnInt64(9));
  c.verified_at_us = row.ColumnInt64(10);
  c.token_hash = row.ColumnIsNull(11) ? std::string() : row.ColumnBytes(11);
  c.token_expires_at_us = row.ColumnInt64(12);
  c.token_used_at_us = row.ColumnInt64(13);
  return c;
}

// Counts the rows for `key` in the window; when the limit is reached,
// *oldest receives the start whose leaving makes room.
Result<bool> AtLimit(Connection& writer, const char* count_sql, const char* oldest_sql,
                     const std::string& key, int64_t window_start_us, int limit, int64_t* oldest) {
  int64_t count = 0;
  {
    ASSIGN_OR_RETURN(auto select, writer.Prepare(count_sql, "count self-service starts"));
    select->BindText(1, key);
    select->BindInt64(2, window_start_us);
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (has_row) count = select->ColumnInt64(0);
  }
  if (count < limit) return false;
  ASSIGN_OR_RETURN(auto select, writer.Prepare(oldest_sql, "oldest self-service start"));
  select->BindText(1, key);
  select->BindInt64(2, window_start_us);
  select->BindInt64(3, count - limit);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  *oldest = has_row ? select->ColumnInt64(0) : window_start_us;
  return true;
}

}  // namespace

Status SqliteSelfServiceStore::Write(const std::function<Status(Connection&)>& work) {
  return base_.WithWriter([&work](Connection& writer) -> Status {
    Transaction transaction(writer);
    RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
    RETURN_IF_ERROR(work(writer));
    return transaction.Commit();
  });
}

Result<ChallengeInsertOutcome> SqliteSelfServiceStore::InsertChallengeWithinLimits(
    const ChallengeRecord& c, const ChallengeLimits& limits) {
  RETURN_IF_ERROR(CheckText("challenge id", c.id, kChallengeIdBytesMax));
  RETURN_IF_ERROR(CheckText("customer id", c.customer_id, kChallengeCustomerIdBytesMax));
  RETURN_IF_ERROR(CheckText("ip", c.ip, kChallengeIpBytesMax));
  RETURN_IF_ERROR(CheckText("code salt", c.code_salt, kChallengeSecretBytesMax));
  RETURN_IF_ERROR(CheckText("code MAC", c.code_mac, kChallengeSecretBytesMax));
  if (limits.per_customer_max < 1 || limits.per_ip_max < 1) {
    return InvalidArgument("self-service limits must be at least 1");
  }
  ChallengeInsertOutcome outcome;
  RETURN_IF_ERROR(Write([&](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(const bool ip_full,
                     AtLimit(writer, kCountByIp, kOldestByIp, c.ip, limits.window_start_us,
                             limits.per_ip_max, &outcome.oldest_counted_at_us));
    if (ip_full) {
      outcome.refused = ChallengeInsertOutcome::Refused::kPerIp;
      return Status::Ok();  // nothing written; the commit is empty
    }
    ASSIGN_OR_RETURN(
        const bool customer_full,
        AtLimit(writer, kCountByCustomer, kOldestByCustomer, c.customer_id, limits.window_start_us,
                limits.per_customer_max, &outcome.oldest_counted_at_us));
    if (customer_full) {
      outcome.refused = ChallengeInsertOutcome::Refused::kPerCustomer;
      return Status::Ok();
    }
    {
      ASSIGN_OR_RETURN(auto prune, writer.Prepare(kPruneOld, "prune self-service challenges"));
      prune->BindInt64(1, c.created_at_us - kChallengeRetentionUs);
      RETURN_IF_ERROR(prune->Run());
    }
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertChallenge, "insert challenge"));
    insert->BindText(1, c.id);
    insert->BindText(2, c.customer_id);
    insert->BindText(3, c.ip);
    insert->BindInt64(4, c.created_at_us);
    insert->BindInt64(5, c.expires_at_us);
    insert->BindInt64(6, c.decoy ? 1 : 0);
    insert->BindBlob(7, c.code_salt);
    insert->BindBlob(8, c.code_mac);
    insert->BindInt64(9, c.mac_key_version);
    Status status = insert->Run();
    if (status.code() == ErrorCode::kConflict) return Conflict("challenge id exists");
    return status;
  }));
  return outcome;
}

Result<ChallengeRecord> SqliteSelfServiceStore::CountAttempt(const std::string& id, int64_t now_us,
                                                             int attempts_max) {
  RETURN_IF_ERROR(CheckText("challenge id", id, kChallengeIdBytesMax));
  ChallengeRecord row;
  RETURN_IF_ERROR(Write([&](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(auto update, writer.Prepare(kCountAttempt, "count verify attempt"));
    update->BindText(1, id);
    update->BindInt64(2, now_us);
    update->BindInt64(3, attempts_max);
    ASSIGN_OR_RETURN(const bool has_row, update->Step());
    if (!has_row) return NotFound("no usable challenge");
    row = ReadChallengeRow(*update);
    // Finish the statement so the UPDATE is complete before the commit.
    ASSIGN_OR_RETURN(const bool more, update->Step());
    if (more) return Internal("challenge id matched two rows");
    return Status::Ok();
  }));
  return row;
}

Status SqliteSelfServiceStore::IssueToken(const std::string& id, const std::string& token_hash,
                                          int64_t verified_at_us, int64_t token_expires_at_us) {
  RETURN_IF_ERROR(CheckText("challenge id", id, kChallengeIdBytesMax));
  RETURN_IF_ERROR(CheckText("token hash", token_hash, kChallengeSecretBytesMax));
  return Write([&](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(auto update, writer.Prepare(kIssueToken, "issue change token"));
    update->BindText(1, id);
    update->BindInt64(2, verified_at_us);
    update->BindBlob(3, token_hash);
    update->BindInt64(4, token_expires_at_us);
    RETURN_IF_ERROR(update->Run());
    if (writer.Changes() == 0) return NotFound("challenge is verified already");
    return Status::Ok();
  });
}

Result<ChallengeRecord> SqliteSelfServiceStore::ConsumeToken(const std::string& token_hash,
                                                             int64_t now_us) {
  RETURN_IF_ERROR(CheckText("token hash", token_hash, kChallengeSecretBytesMax));
  ChallengeRecord row;
  RETURN_IF_ERROR(Write([&](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(auto update, writer.Prepare(kConsumeToken, "use change token"));
    update->BindBlob(1, token_hash);
    update->BindInt64(2, now_us);
    ASSIGN_OR_RETURN(const bool has_row, update->Step());
    if (!has_row) return NotFound("no usable change token");
    row = ReadChallengeRow(*update);
    ASSIGN_OR_RETURN(const bool more, update->Step());
    if (more) return Internal("token hash matched two rows");
    return Status::Ok();
  }));
  return row;
}

Result<ChallengeRecord> SqliteSelfServiceStore::GetChallenge(const std::string& id) {
  RETURN_IF_ERROR(CheckText("challenge id", id, kChallengeIdBytesMax));
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectChallenge, "read challenge"));
  select->BindText(1, id);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return NotFound("no such challenge");
  return ReadChallengeRow(*select);
}

}  // namespace custvault::store::sqlite

namespace custvault::store {

Result<std::unique_ptr<SelfServiceStore>> OpenSqliteSelfServiceStore(Store& store) {
  auto* sqlite_store = dynamic_cast<sqlite::SqliteStore*>(&store);
  if (sqlite_store == nullptr) {
    return InvalidArgument("the self-service store needs the store from OpenSqliteStore");
  }
  return std::unique_ptr<SelfServiceStore>(new sqlite::SqliteSelfServiceStore(*sqlite_store));
}

}  // namespace custvault::store
