#include "store/sqlite/sqlite_identity_store.h"

#include <sqlite3.h>

#include <algorithm>

namespace custvault::store::sqlite {
namespace {

// ---- SQL: constants only; every value is a bound parameter ----
#define ACCOUNT_COLUMNS                                                               \
  "id, username, display_name, role, status, password_hash, password_changed_at_us, " \
  "must_change_password, totp_secret, totp_pending, totp_last_step, failed_logins, "  \
  "locked_until_us, last_review_at_us, last_login_at_us, created_at_us, ip_allowlist"

constexpr char kInsertAccount[] =
    "INSERT INTO accounts (" ACCOUNT_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
constexpr char kSelectAccountById[] = "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id = ?1";
constexpr char kSelectAccountByUsername[] =
    "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE username = ?1";
constexpr char kListAccounts[] =
    "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY username LIMIT ?1";
// A lockout restarts the count, so each lockout needs `lockout_failures`
// fresh failures (?2); ?3 is the lock's end.
constexpr char kRecordFailure[] =
    "UPDATE accounts SET "
    "locked_until_us = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE locked_until_us END, "
    "failed_logins = CASE WHEN failed_logins + 1 >= ?2 THEN 0 ELSE failed_logins + 1 END "
    "WHERE id = ?1";
constexpr char kRecordSuccess[] =
    "UPDATE accounts SET failed_logins = 0, last_login_at_us = ?2 WHERE id = ?1";
constexpr char kAdvanceTotpStep[] =
    "UPDATE accounts SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2";
constexpr char kInsertSession[] =
    "INSERT INTO sessions (id, token_hash, account_id, created_at_us, last_seen_us, ip) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr char kSelectPasswordHash[] = "SELECT password_hash FROM accounts WHERE id = ?1";
constexpr char kInsertHistory[] =
    "INSERT INTO password_history (account_id, hash, changed_at_us) VALUES (?1, ?2, ?3)";
constexpr char kTrimHistory[] =
    "DELETE FROM password_history WHERE account_id = ?1 AND rowid NOT IN ("
    "SELECT rowid FROM password_history WHERE account_id = ?1 "
    "ORDER BY changed_at_us DESC, rowid DESC LIMIT ?2)";
constexpr char kSetPassword[] =
    "UPDATE accounts SET password_hash = ?2, password_changed_at_us = ?3, "
    "must_change_password = ?4 WHERE id = ?1";
constexpr char kSelectHistory[] =
    "SELECT hash FROM password_history WHERE account_id = ?1 "
    "ORDER BY changed_at_us DESC, rowid DESC LIMIT ?2";
constexpr char kSetTotpPending[] = "UPDATE accounts SET totp_pending = ?2 WHERE id = ?1";
constexpr char kConfirmTotp[] =
    "UPDATE accounts SET totp_secret = totp_pending, totp_pending = x'', totp_last_step = ?2 "
    "WHERE id = ?1 AND length(totp_pending) > 0";
constexpr char kSetAllowlist[] = "UPDATE accounts SET ip_allowlist = ?2 WHERE id = ?1";
constexpr char kDisableAccount[] = "UPDATE accounts SET status = 'disabled' WHERE id = ?1";
constexpr char kDeleteSessionsOfAccount[] = "DELETE FROM sessions WHERE account_id = ?1";
constexpr char kDeleteOtherSessionsOfAccount[] =
    "DELETE FROM sessions WHERE account_id = ?1 AND id <> ?2";
// Ends every session of an account inside the caller's write transaction;
// returns how many there were.
Result<int64_t> DeleteSessions(Connection& writer, const std::string& account_id) {
  ASSIGN_OR_RETURN(auto remove, writer.Prepare(kDeleteSessionsOfAccount, "end sessions"));
  remove->BindText(1, account_id);
  RETURN_IF_ERROR(remove->Run());
  return writer.Changes();
}

constexpr char kInsertReview[] =
    "INSERT INTO account_reviews (account_id, reviewed_by, reviewed_at_us, comment) "
    "VALUES (?1, ?2, ?3, ?4)";
constexpr char kSetLastReview[] = "UPDATE accounts SET last_review_at_us = ?2 WHERE id = ?1";
constexpr char kListReviews[] =
    "SELECT account_id, reviewed_by, reviewed_at_us, comment FROM account_reviews "
    "WHERE account_id = ?1 ORDER BY reviewed_at_us DESC LIMIT ?2";

constexpr char kSelectSession[] =
    "SELECT id, token_hash, account_id, created_at_us, last_seen_us, ip FROM sessions "
    "WHERE token_hash = ?1";
constexpr char kTouchSession[] = "UPDATE sessions SET last_seen_us = ?2 WHERE id = ?1";
constexpr char kDeleteSession[] = "DELETE FROM sessions WHERE id = ?1";

#define REQUEST_COLUMNS                                                                 \
  "id, account_id, requested_role, requested_by, requested_at_us, status, decided_by, " \
  "decided_at_us, comment"
constexpr char kInsertRequest[] =
    "INSERT INTO role_requests (" REQUEST_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr char kSelectRequest[] = "SELECT " REQUEST_COLUMNS " FROM role_requests WHERE id = ?1";
constexpr char kListRequests[] =
    "SELECT " REQUEST_COLUMNS " FROM role_requests ORDER BY requested_at_us DESC LIMIT ?1";
constexpr char kListRequestsByStatus[] =
    "SELECT " REQUEST_COLUMNS
    " FROM role_requests WHERE status = ?1 ORDER BY requested_at_us DESC LIMIT ?2";
constexpr char kDecideRequest[] =
    "UPDATE role_requests SET status = ?2, decided_by = ?3, decided_at_us = ?4, comment = ?5 "
    "WHERE id = ?1 AND status = 'pending'";
constexpr char kSetRole[] =
    "UPDATE accounts SET role = ?2, "
    "status = CASE WHEN status = 'pending' THEN 'active' ELSE status END WHERE id = ?1";

constexpr char kInsertChannel[] =
    "INSERT INTO channels (name, api_key_hash, created_by, created_at_us, status, expires_at_us) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
#define CV_CHANNEL_COLUMNS                                                           \
  "name, api_key_hash, created_by, created_at_us, status, expires_at_us, "          \
  "coalesce(previous_key_hash, ''), previous_valid_until_us, revoked_at_us "
constexpr char kSelectChannelByKey[] =
    "SELECT " CV_CHANNEL_COLUMNS "FROM channels WHERE api_key_hash = ?1 "
    "UNION ALL SELECT " CV_CHANNEL_COLUMNS "FROM channels WHERE previous_key_hash = ?1";
constexpr char kSelectChannel[] = "SELECT " CV_CHANNEL_COLUMNS "FROM channels WHERE name = ?1";
constexpr char kListChannels[] =
    "SELECT " CV_CHANNEL_COLUMNS "FROM channels ORDER BY name LIMIT ?1";
#undef CV_CHANNEL_COLUMNS
constexpr char kRotateChannelKey[] =
    "UPDATE channels SET previous_key_hash = api_key_hash, previous_valid_until_us = ?3, "
    "api_key_hash = ?2, expires_at_us = ?4 WHERE name = ?1 AND status = 'active'";
constexpr char kRevokeChannel[] =
    "UPDATE channels SET status = 'revoked', revoked_at_us = ?2, previous_key_hash = NULL, "
    "previous_valid_until_us = 0 WHERE name = ?1 AND status <> 'revoked'";

Status CheckText(std::string_view what, std::string_view value, size_t max_bytes,
                 bool may_be_empty = false) {
  if ((!may_be_empty && value.empty()) || value.size() > max_bytes) {
    return InvalidArgument(std::string(what) + " must be " + (may_be_empty ? "0" : "1") + ".." +
                           std::to_string(max_bytes) + " bytes");
  }
  return Status::Ok();
}

Status ValidateAccount(const AccountRecord& a) {
  RETURN_IF_ERROR(CheckText("account id", a.id, kIdentityIdBytesMax));
  RETURN_IF_ERROR(CheckText("username", a.username, kUsernameBytesMax));
  RETURN_IF_ERROR(CheckText("display name", a.display_name, kDisplayNameBytesMax, true));
  RETURN_IF_ERROR(CheckText("role", a.role, 32));
  if (a.status != "pending" && a.status != "active" && a.status != "disabled") {
    return InvalidArgument("bad account status");
  }
  RETURN_IF_ERROR(CheckText("password hash", a.password_hash, kPasswordHashBytesMax));
  RETURN_IF_ERROR(CheckText("TOTP secret", a.totp_secret_sealed, kSealedSecretBytesMax, true));
  RETURN_IF_ERROR(CheckText("TOTP secret", a.totp_pending_sealed, kSealedSecretBytesMax, true));
  RETURN_IF_ERROR(CheckText("IP allow-list", a.ip_allowlist, kIpAllowlistBytesMax, true));
  return Status::Ok();
}

AccountRecord ReadAccountRow(const Statement& row) {
  AccountRecord a;
  a.id = row.ColumnBytes(0);
  a.username = row.ColumnBytes(1);
  a.display_name = row.ColumnBytes(2);
  a.role = row.ColumnBytes(3);
  a.status = row.ColumnBytes(4);
  a.password_hash = row.ColumnBytes(5);
  a.password_changed_at_us = row.ColumnInt64(6);
  a.must_change_password = row.ColumnInt64(7) != 0;
  a.totp_secret_sealed = row.ColumnBytes(8);
  a.totp_pending_sealed = row.ColumnBytes(9);
  a.totp_last_step = row.ColumnInt64(10);
  a.failed_logins = static_cast<int>(row.ColumnInt64(11));
  a.locked_until_us = row.ColumnInt64(12);
  a.last_review_at_us = row.ColumnInt64(13);
  a.last_login_at_us = row.ColumnInt64(14);
  a.created_at_us = row.ColumnInt64(15);
  a.ip_allowlist = row.ColumnBytes(16);
  return a;
}

RoleRequestRecord ReadRequestRow(const Statement& row) {
  RoleRequestRecord r;
  r.id = row.ColumnBytes(0);
  r.account_id = row.ColumnBytes(1);
  r.requested_role = row.ColumnBytes(2);
  r.requested_by = row.ColumnBytes(3);
  r.requested_at_us = row.ColumnInt64(4);
  r.status = row.ColumnBytes(5);
  r.decided_by = row.ColumnBytes(6);
  r.decided_at_us = row.ColumnInt64(7);
  r.comment = row.ColumnBytes(8);
  return r;
}

ChannelRecord ReadChannelRow(const Statement& row) {
  return {row.ColumnBytes(0), row.ColumnBytes(1), row.ColumnBytes(2), row.ColumnInt64(3),
          row.ColumnBytes(4), row.ColumnInt64(5), row.ColumnBytes(6), row.ColumnInt64(7),
          row.ColumnInt64(8)};
}

// Runs an UPDATE/DELETE bound by `bind`; kNotFound (with `missing`) if no
// row changed.
template <typename Bind>
Status RunChanging(Connection& writer, const char* sql, std::string_view what, Bind bind,
                   const char* missing) {
  ASSIGN_OR_RETURN(auto statement, writer.Prepare(sql, what));
  bind(*statement);
  RETURN_IF_ERROR(statement->Run());
  if (writer.Changes() == 0) return NotFound(missing);
  return Status::Ok();
}

}  // namespace

Status SqliteIdentityStore::Write(const std::function<Status(Connection&)>& work) {
  return base_.WithWriter([&work](Connection& writer) -> Status {
    Transaction transaction(writer);
    RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
    RETURN_IF_ERROR(work(writer));
    return transaction.Commit();
  });
}

Result<AccountRecord> SqliteIdentityStore::ReadAccount(const char* sql, const std::string& key) {
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(sql, "read account"));
  select->BindText(1, key);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return NotFound("no such account");
  return ReadAccountRow(*select);
}

Status SqliteIdentityStore::InsertAccount(const AccountRecord& a) {
  RETURN_IF_ERROR(ValidateAccount(a));
  return Write([&a](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertAccount, "insert account"));
    insert->BindText(1, a.id);
    insert->BindText(2, a.username);
    insert->BindText(3, a.display_name);
    insert->BindText(4, a.role);
    insert->BindText(5, a.status);
    insert->BindText(6, a.password_hash);
    insert->BindInt64(7, a.password_changed_at_us);
    insert->BindInt64(8, a.must_change_password ? 1 : 0);
    insert->BindBlob(9, a.totp_secret_sealed);
    insert->BindBlob(10, a.totp_pending_sealed);
    insert->BindInt64(11, a.totp_last_step);
    insert->BindInt64(12, a.failed_logins);
    insert->BindInt64(13, a.locked_until_us);
    insert->BindInt64(14, a.last_review_at_us);
    insert->BindInt64(15, a.last_login_at_us);
    insert->BindInt64(16, a.created_at_us);
    insert->BindText(17, a.ip_allowlist);
    Status status = insert->Run();
    if (status.code() == ErrorCode::kConflict) return Conflict("username or account id exists");
    return status;
  });
}

Result<AccountRecord> SqliteIdentityStore::GetAccount(const std::string& id) {
  RETURN_IF_ERROR(CheckText("account id", id, kIdentityIdBytesMax));
  return ReadAccount(kSelectAccountById, id);
}

Result<AccountRecord> SqliteIdentityStore::GetAccountByUsername(const std::string& username) {
  RETURN_IF_ERROR(CheckText("username", username, kUsernameBytesMax));
  return ReadAccount(kSelectAccountByUsername, username);
}

Result<std::vector<AccountRecord>> SqliteIdentityStore::ListAccounts() {
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kListAccounts, "list accounts"));
  select->BindInt64(1, kIdentityListMax);
  std::vector<AccountRecord> accounts;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    accounts.push_back(ReadAccountRow(*select));
  }
  return accounts;
}

Result<AccountRecord> SqliteIdentityStore::RecordLoginFailure(const std::string& account_id,
                                                              int lockout_failures,
                                                              int64_t locked_until_us) {
  RETURN_IF_ERROR(CheckText("account id", account_id, kIdentityIdBytesMax));
  if (lockout_failures < 1) return InvalidArgument("lockout_failures must be at least 1");
  AccountRecord after;
  RETURN_IF_ERROR(Write([&](Connection& writer) -> Status {
    RETURN_IF_ERROR(RunChanging(
        writer, kRecordFailure, "record login failure",
        [&](Statement& s) {
          s.BindText(1, account_id);
          s.BindInt64(2, lockout_failures);
          s.BindInt64(3, locked_until_us);
        },
        "no such account"));
    ASSIGN_OR_RETURN(auto select, writer.Prepare(kSelectAccountById, "read account"));
    select->BindText(1, account_id);
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) return NotFound("no such account");
    after = ReadAccountRow(*select);
    return Status::Ok();
  }));
  return after;
}

Status SqliteIdentityStore::RecordLoginSuccess(const SessionRecord& session,
                                               std::optional<int64_t> totp_step) {
  RETURN_IF_ERROR(CheckText("session id", session.id, kIdentityIdBytesMax));
  RETURN_IF_ERROR(CheckText("token hash", session.token_hash, 128));
  RETURN_IF_ERROR(CheckText("account id", session.account_id, kIdentityIdBytesMax));
  RETURN_IF_ERROR(CheckText("ip", session.ip, 64, true));
  return Write([&](Connection& writer) -> Status {
    if (totp_step.has_value()) {
      ASSIGN_OR_RETURN(auto advance, writer.Prepare(kAdvanceTotpStep, "advance TOTP step"));
      advance->BindText(1, session.account_id);
      advance->BindInt64(2, *totp_step);
      RETURN_IF_ERROR(advance->Run());
      if (writer.Changes() == 0) return Conflict("TOTP code was already used");
    }
    RETURN_IF_ERROR(RunChanging(
        writer, kRecordSuccess, "record login",
        [&](Statement& s) {
          s.BindText(1, session.account_id);
          s.BindInt64(2, session.created_at_us);
        },
        "no such account"));
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertSession, "insert session"));
    insert->BindText(1, session.id);
    insert->BindText(2, session.token_hash);
    insert->BindText(3, session.account_id);
    insert->BindInt64(4, session.created_at_us);
    insert->BindInt64(5, session.last_seen_us);
    insert->BindText(6, session.ip);
    return insert->Run();
  });
}

Result<int64_t> SqliteIdentityStore::ChangePassword(const std::string& account_id,
                                                    const std::string& new_hash,
                                                    int64_t changed_at_us,
                                                    bool must_change_password, int history_keep,
                                                    const std::string& keep_session_id) {
  RETURN_IF_ERROR(CheckText("account id", account_id, kIdentityIdBytesMax));
  RETURN_IF_ERROR(CheckText("password hash", new_hash, kPasswordHashBytesMax));
  RETURN_IF_ERROR(CheckText("session id", keep_session_id, kIdentityIdBytesMax, true));
  if (history_keep < 0 || history_keep > 100) return InvalidArgument("bad password history size");
  int64_t ended = 0;
  RETURN_IF_ERROR(Write([&](Connection& writer) -> Status {
    std::string old_hash;
    {
      ASSIGN_OR_RETURN(auto select, writer.Prepare(kSelectPasswordHash, "read password hash"));
      select->BindText(1, account_id);
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) return NotFound("no such account");
      old_hash = select->ColumnBytes(0);
    }
    {
      ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertHistory, "remember old password"));
      insert->BindText(1, account_id);
      insert->BindText(2, old_hash);
      insert->BindInt64(3, changed_at_us);
      RETURN_IF_ERROR(insert->Run());
    }
    {
      ASSIGN_OR_RETURN(auto trim, writer.Prepare(kTrimHistory, "trim password history"));
      trim->BindText(1, account_id);
      trim->BindInt64(2, history_keep);
      RETURN_IF_ERROR(trim->Run());
    }
    RETURN_IF_ERROR(RunChanging(
        writer, kSetPassword, "set password",
        [&](Statement& s) {
          s.BindText(1, account_id);
          s.BindText(2, new_hash);
          s.BindInt64(3, changed_at_us);
          s.BindInt64(4, must_change_password ? 1 : 0);
        },
        "no such account"));
    // The other sessions end with the old password (issue 10.5): whoever
    // held the old one is logged out everywhere.
    ASSIGN_OR_RETURN(auto remove,
                     writer.Prepare(kDeleteOtherSessionsOfAccount, "end other sessions"));
    remove->BindText(1, account_id);
    remove->BindText(2, keep_session_id);
    RETURN_IF_ERROR(remove->Run());
    ended = writer.Changes();
    return Status::Ok();
  }));
  return ended;
}

Result<std::vector<std::string>> SqliteIdentityStore::PasswordHistory(const std::string& account_id,
                                                                      int limit) {
  RETURN_IF_ERROR(CheckText("account id", account_id, kIdentityIdBytesMax));
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectHistory, "read password history"));
  select->BindText(1, account_id);
  select->BindInt64(2, std::clamp(limit, 0, 100));
  std::vector<std::string> hashes;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    hashes.push_back(select->ColumnBytes(0));
  }
  return hashes;
}

Status SqliteIdentityStore::SetTotpPending(const std::string& account_id,
                                           const std::string& sealed) {
  RETURN_IF_ERROR(CheckText("TOTP secret", sealed, kSealedSecretBytesMax));
  return Write([&](Connection& writer) {
    return RunChanging(
        writer, kSetTotpPending, "set pending TOTP secret",
        [&](Statement& s) {
          s.BindText(1, account_id);
          s.BindBlob(2, sealed);
        },
        "no such account");
  });
}

Status SqliteIdentityStore::ConfirmTotp(const std::string& account_id, int64_t totp_step) {
  return Write([&](Connection& writer) {
    return RunChanging(
        writer, kConfirmTotp, "confirm TOTP",
        [&](Statement& s) {
          s.BindText(1, account_id);
          s.BindInt64(2, totp_step);
        },
        "no TOTP enrolment is pending");
  });
}

Status SqliteIdentityStore::SetIpAllowlist(const std::string& account_id,
                                           const std::string& allowlist) {
  RETURN_IF_ERROR(CheckText("IP allow-list", allowlist, kIpAllowlistBytesMax, true));
  return Write([&](Connection& writer) {
    return RunChanging(
        writer, kSetAllowlist, "set IP allow-list",
        [&](Statement& s) {
          s.BindText(1, account_id);
          s.BindText(2, allowlist);
        },
        "no such account");
  });
}

Result<int64_t> SqliteIdentityStore::DisableAccount(const std::string& account_id) {
  RETURN_IF_ERROR(CheckText("account id", account_id, kIdentityIdBytesMax));
  int64_t ended = 0;
  RETURN_IF_ERROR(Write([&](Connection& writer) -> Status {
    RETURN_IF_ERROR(RunChanging(
        writer, kDisableAccount, "disable account",
        [&](Statement& s) { s.BindText(1, account_id); }, "no such account"));
    ASSIGN_OR_RETURN(ended, DeleteSessions(writer, account_id));
    return Status::Ok();
  }));
  return ended;
}

Status SqliteIdentityStore::RecordReview(const AccountReviewRecord& review) {
  RETURN_IF_ERROR(CheckText("account id", review.account_id, kIdentityIdBytesMax));
  RETURN_IF_ERROR(CheckText("reviewer", review.reviewed_by, kIdentityIdBytesMax));
  RETURN_IF_ERROR(CheckText("comment", review.comment, kCommentBytesMax, true));
  return Write([&](Connection& writer) -> Status {
    RETURN_IF_ERROR(RunChanging(
        writer, kSetLastReview, "set last review",
        [&](Statement& s) {
          s.BindText(1, review.account_id);
          s.BindInt64(2, review.reviewed_at_us);
        },
        "no such account"));
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertReview, "insert review"));
    insert->BindText(1, review.account_id);
    insert->BindText(2, review.reviewed_by);
    insert->BindInt64(3, review.reviewed_at_us);
    insert->BindText(4, review.comment);
    return insert->Run();
  });
}

Result<std::vector<AccountReviewRecord>> SqliteIdentityStore::ListReviews(
    const std::string& account_id) {
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kListReviews, "list reviews"));
  select->BindText(1, account_id);
  select->BindInt64(2, kIdentityListMax);
  std::vector<AccountReviewRecord> reviews;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    reviews.push_back({select->ColumnBytes(0), select->ColumnBytes(1), select->ColumnInt64(2),
                       select->ColumnBytes(3)});
  }
  return reviews;
}

Result<SessionRecord> SqliteIdentityStore::GetSessionByTokenHash(const std::string& token_hash) {
  RETURN_IF_ERROR(CheckText("token hash", token_hash, 128));
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectSession, "read session"));
  select->BindText(1, token_hash);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return NotFound("no such session");
  return SessionRecord{select->ColumnBytes(0), select->ColumnBytes(1), select->ColumnBytes(2),
                       select->ColumnInt64(3), select->ColumnInt64(4), select->ColumnBytes(5)};
}

Status SqliteIdentityStore::TouchSession(const std::string& session_id, int64_t last_seen_us) {
  return Write([&](Connection& writer) {
    return RunChanging(
        writer, kTouchSession, "touch session",
        [&](Statement& s) {
          s.BindText(1, session_id);
          s.BindInt64(2, last_seen_us);
        },
        "no such session");
  });
}

Status SqliteIdentityStore::DeleteSession(const std::string& session_id) {
  return Write([&](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(auto remove, writer.Prepare(kDeleteSession, "end session"));
    remove->BindText(1, session_id);
    return remove->Run();
  });
}

Result<int64_t> SqliteIdentityStore::DeleteSessionsOfAccount(const std::string& account_id) {
  int64_t ended = 0;
  RETURN_IF_ERROR(Write([&](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(ended, DeleteSessions(writer, account_id));
    return Status::Ok();
  }));
  return ended;
}

Status SqliteIdentityStore::InsertRoleRequest(const RoleRequestRecord& r) {
  RETURN_IF_ERROR(CheckText("request id", r.id, kIdentityIdBytesMax));
  RETURN_IF_ERROR(CheckText("account id", r.account_id, kIdentityIdBytesMax));
  RETURN_IF_ERROR(CheckText("role", r.requested_role, 32));
  RETURN_IF_ERROR(CheckText("requester", r.requested_by, kIdentityIdBytesMax));
  RETURN_IF_ERROR(CheckText("comment", r.comment, kCommentBytesMax, true));
  return Write([&](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertRequest, "insert role request"));
    insert->BindText(1, r.id);
    insert->BindText(2, r.account_id);
    insert->BindText(3, r.requested_role);
    insert->BindText(4, r.requested_by);
    insert->BindInt64(5, r.requested_at_us);
    insert->BindText(6, r.status);
    insert->BindText(7, r.decided_by);
    insert->BindInt64(8, r.decided_at_us);
    insert->BindText(9, r.comment);
    return insert->Run();
  });
}

Result<RoleRequestRecord> SqliteIdentityStore::GetRoleRequest(const std::string& id) {
  RETURN_IF_ERROR(CheckText("request id", id, kIdentityIdBytesMax));
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectRequest, "read role request"));
  select->BindText(1, id);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return NotFound("no such role request");
  return ReadRequestRow(*select);
}

Result<std::vector<RoleRequestRecord>> SqliteIdentityStore::ListRoleRequests(
    const std::string& status) {
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  std::vector<RoleRequestRecord> requests;
  auto collect = [&requests](Statement& select) -> Status {
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select.Step());
      if (!has_row) return Status::Ok();
      requests.push_back(ReadRequestRow(select));
    }
  };
  if (status.empty()) {
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kListRequests, "list role requests"));
    select->BindInt64(1, kIdentityListMax);
    RETURN_IF_ERROR(collect(*select));
  } else {
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kListRequestsByStatus, "list role requests"));
    select->BindText(1, status);
    select->BindInt64(2, kIdentityListMax);
    RETURN_IF_ERROR(collect(*select));
  }
  return requests;
}

Status SqliteIdentityStore::DecideRoleRequest(const std::string& id, bool approve,
                                              const std::string& decided_by, int64_t decided_at_us,
                                              const std::string& comment) {
  RETURN_IF_ERROR(CheckText("comment", comment, kCommentBytesMax, true));
  return Write([&](Connection& writer) -> Status {
    RoleRequestRecord request;
    {
      ASSIGN_OR_RETURN(auto select, writer.Prepare(kSelectRequest, "read role request"));
      select->BindText(1, id);
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) return NotFound("no such role request");
      request = ReadRequestRow(*select);
    }
    {
      ASSIGN_OR_RETURN(auto decide, writer.Prepare(kDecideRequest, "decide role request"));
      decide->BindText(1, id);
      decide->BindText(2, approve ? "approved" : "rejected");
      decide->BindText(3, decided_by);
      decide->BindInt64(4, decided_at_us);
      decide->BindText(5, comment);
      RETURN_IF_ERROR(decide->Run());
      if (writer.Changes() == 0) return Conflict("role request was already decided");
    }
    if (!approve) return Status::Ok();
    return RunChanging(
        writer, kSetRole, "set role",
        [&](Statement& s) {
          s.BindText(1, request.account_id);
          s.BindText(2, request.requested_role);
        },
        "no such account");
  });
}

Status SqliteIdentityStore::InsertChannel(const ChannelRecord& c) {
  RETURN_IF_ERROR(CheckText("channel name", c.name, kUsernameBytesMax));
  RETURN_IF_ERROR(CheckText("API key hash", c.api_key_hash, 128));
  RETURN_IF_ERROR(CheckText("creator", c.created_by, kIdentityIdBytesMax));
  return Write([&](Connection& writer) -> Status {
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertChannel, "insert channel"));
    insert->BindText(1, c.name);
    insert->BindText(2, c.api_key_hash);
    insert->BindText(3, c.created_by);
    insert->BindInt64(4, c.created_at_us);
    insert->BindText(5, c.status);
    insert->BindInt64(6, c.expires_at_us);
    Status status = insert->Run();
    if (status.code() == ErrorCode::kConflict) return Conflict("channel name exists");
    return status;
  });
}

Result<ChannelRecord> SqliteIdentityStore::GetChannelByKeyHash(const std::string& api_key_hash) {
  RETURN_IF_ERROR(CheckText("API key hash", api_key_hash, 128));
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectChannelByKey, "read channel"));
  select->BindText(1, api_key_hash);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return NotFound("no such channel");
  return ReadChannelRow(*select);
}

Result<ChannelRecord> SqliteIdentityStore::GetChannel(const std::string& name) {
  RETURN_IF_ERROR(CheckText("channel name", name, kUsernameBytesMax));
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectChannel, "read channel"));
  select->BindText(1, name);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return NotFound("no such channel");
  return ReadChannelRow(*select);
}

Status SqliteIdentityStore::RotateChannelKey(const std::string& name,
                                             const std::string& new_key_hash,
                                             int64_t previous_valid_until_us,
                                             int64_t expires_at_us) {
  RETURN_IF_ERROR(CheckText("channel name", name, kUsernameBytesMax));
  RETURN_IF_ERROR(CheckText("API key hash", new_key_hash, 128));
  return Write([&](Connection& writer) -> Status {
    return RunChanging(
        writer, kRotateChannelKey, "rotate channel key",
        [&](Statement& s) {
          s.BindText(1, name);
          s.BindText(2, new_key_hash);
          s.BindInt64(3, previous_valid_until_us);
          s.BindInt64(4, expires_at_us);
        },
        "no such active channel");
  });
}

Status SqliteIdentityStore::RevokeChannel(const std::string& name, int64_t revoked_at_us) {
  RETURN_IF_ERROR(CheckText("channel name", name, kUsernameBytesMax));
  return Write([&](Connection& writer) -> Status {
    return RunChanging(
        writer, kRevokeChannel, "revoke channel",
        [&](Statement& s) {
          s.BindText(1, name);
          s.BindInt64(2, revoked_at_us);
        },
        "no such channel, or revoked already");
  });
}

Result<std::vector<ChannelRecord>> SqliteIdentityStore::ListChannels() {
  ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
  ASSIGN_OR_RETURN(auto select, reader->Prepare(kListChannels, "list channels"));
  select->BindInt64(1, kIdentityListMax);
  std::vector<ChannelRecord> channels;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) break;
    channels.push_back(ReadChannelRow(*select));
  }
  return channels;
}

}  // namespace custvault::store::sqlite

namespace custvault::store {

Result<std::unique_ptr<IdentityStore>> OpenSqliteIdentityStore(Store& store) {
  auto* sqlite_store = dynamic_cast<sqlite::SqliteStore*>(&store);
  if (sqlite_store == nullptr) {
    return InvalidArgument("the identity store needs the store from OpenSqliteStore");
  }
  return std::unique_ptr<IdentityStore>(new sqlite::SqliteIdentityStore(*sqlite_store));
}

}  // namespace custvault::store
