#include "store/sqlite/migrations.h"

#include <iterator>
#include <string>

namespace custvault::store::sqlite {
namespace {

// Migration 1: everything. See docs/formats/database-schema.md for why each
// table and index looks the way it does. Never edit a migration that has
// shipped: add migration N+1 instead.
constexpr const char* kMigration1 = R"sql(
CREATE TABLE customers (
  id            TEXT    NOT NULL PRIMARY KEY,
  status        TEXT    NOT NULL,
  channel       TEXT    NOT NULL,
  created_at_us INTEGER NOT NULL,
  updated_at_us INTEGER NOT NULL,
  key_version   INTEGER NOT NULL,
  kek_version   INTEGER NOT NULL,
  fields        BLOB    NOT NULL
);
CREATE TABLE customer_keys (
  customer_id TEXT    NOT NULL PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
  kek_version INTEGER NOT NULL,
  wrapped     BLOB    NOT NULL
) WITHOUT ROWID;
CREATE TABLE blind_index (
  field_key   TEXT NOT NULL,
  digest      BLOB NOT NULL,
  customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  PRIMARY KEY (field_key, digest, customer_id)
) WITHOUT ROWID;
CREATE INDEX blind_index_by_customer ON blind_index(customer_id, field_key);
CREATE TABLE customer_tags (
  customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  dimension   TEXT NOT NULL,
  value       TEXT NOT NULL,
  PRIMARY KEY (customer_id, dimension)
) WITHOUT ROWID;
CREATE INDEX customer_tags_by_value ON customer_tags(dimension, value, customer_id);
CREATE TABLE keys (
  purpose       TEXT    NOT NULL,
  version       INTEGER NOT NULL,
  wrapped       BLOB    NOT NULL,
  created_at_us INTEGER NOT NULL,
  PRIMARY KEY (purpose, version)
) WITHOUT ROWID;
CREATE TABLE settings (
  name  TEXT NOT NULL PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Migration 2: identity and access control (R-ACC-1..4): accounts,
// password history, sessions, role requests, account reviews, channels.
// Secrets are stored only as argon2id hashes (passwords), SM3 hashes
// (session tokens, API keys) or sealed by the keyring (TOTP secrets).
constexpr const char* kMigration2 = R"sql(
CREATE TABLE accounts (
  id                     TEXT    NOT NULL PRIMARY KEY,
  username               TEXT    NOT NULL UNIQUE,
  display_name           TEXT    NOT NULL,
  role                   TEXT    NOT NULL,
  status                 TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'disabled')),
  password_hash          TEXT    NOT NULL,
  password_changed_at_us INTEGER NOT NULL,
  must_change_password   INTEGER NOT NULL,
  totp_secret            BLOB    NOT NULL,
  totp_pending           BLOB    NOT NULL,
  totp_last_step         INTEGER NOT NULL,
  failed_logins          INTEGER NOT NULL,
  locked_until_us        INTEGER NOT NULL,
  last_review_at_us      INTEGER NOT NULL,
  last_login_at_us       INTEGER NOT NULL,
  created_at_us          INTEGER NOT NULL,
  ip_allowlist           TEXT    NOT NULL
);
CREATE TABLE password_history (
  account_id    TEXT    NOT NULL REFERENCES accounts(id),
  hash          TEXT    NOT NULL,
  changed_at_us INTEGER NOT NULL
);
CREATE INDEX password_history_by_account ON password_history(account_id, changed_at_us);
CREATE TABLE sessions (
  id            TEXT    NOT NULL PRIMARY KEY,
  token_hash    TEXT    NOT NULL UNIQUE,
  account_id    TEXT    NOT NULL REFERENCES accounts(id),
  created_at_us INTEGER NOT NULL,
  last_seen_us  INTEGER NOT NULL,
  ip            TEXT    NOT NULL
);
CREATE INDEX sessions_by_account ON sessions(account_id);
CREATE TABLE role_requests (
  id              TEXT    NOT NULL PRIMARY KEY,
  account_id      TEXT    NOT NULL REFERENCES accounts(id),
  requested_role  TEXT    NOT NULL,
  requested_by    TEXT    NOT NULL,
  requested_at_us INTEGER NOT NULL,
  status          TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
  decided_by      TEXT    NOT NULL,
  decided_at_us   INTEGER NOT NULL,
  comment         TEXT    NOT NULL
);
CREATE INDEX role_requests_by_time ON role_requests(requested_at_us);
CREATE TABLE account_reviews (
  account_id     TEXT    NOT NULL REFERENCES accounts(id),
  reviewed_by    TEXT    NOT NULL,
  reviewed_at_us INTEGER NOT NULL,
  comment        TEXT    NOT NULL
);
CREATE INDEX account_reviews_by_account ON account_reviews(account_id, reviewed_at_us);
CREATE TABLE channels (
  name          TEXT    NOT NULL PRIMARY KEY,
  api_key_hash  TEXT    NOT NULL UNIQUE,
  created_by    TEXT    NOT NULL,
  created_at_us INTEGER NOT NULL,
  status        TEXT    NOT NULL CHECK (status IN ('active', 'disabled'))
) WITHOUT ROWID;
)sql";

// Migrations 3-6 are reserved, one per piece of work in progress, so they
// can land in any order; each replaces its placeholder with its tables.
// Migration 3: business records (transactions, complaints, cooperation).
// Amounts, times, channel, status and kind are plain columns so the tag
// re-classification can aggregate them in SQL; summaries are envelopes
// sealed with the customer's data key. The (customer_id, occurred_at_us,
// amount_fen) and (customer_id, status) indexes cover the totals queries
// (no table lookups). Rows go with their customer (ON DELETE CASCADE).
constexpr const char* kMigration3 = R"sql(
CREATE TABLE business_transactions (
  id             INTEGER PRIMARY KEY,
  customer_id    TEXT    NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  occurred_at_us INTEGER NOT NULL,
  amount_fen     INTEGER NOT NULL
                 CHECK (amount_fen <> 0 AND amount_fen BETWEEN -10000000000000 AND 10000000000000),
  channel        TEXT    NOT NULL,
  reference      TEXT    NOT NULL,
  created_by     TEXT    NOT NULL,
  created_at_us  INTEGER NOT NULL
);
CREATE INDEX business_transactions_totals
  ON business_transactions(customer_id, occurred_at_us, amount_fen);
CREATE UNIQUE INDEX business_transactions_reference
  ON business_transactions(channel, reference) WHERE reference <> '';
CREATE TABLE business_complaints (
  id            TEXT    NOT NULL PRIMARY KEY,
  customer_id   TEXT    NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  opened_at_us  INTEGER NOT NULL,
  closed_at_us  INTEGER,
  status        TEXT    NOT NULL CHECK (status IN ('open', 'closed')),
  summary       BLOB    NOT NULL,
  created_by    TEXT    NOT NULL,
  created_at_us INTEGER NOT NULL,
  closed_by     TEXT    NOT NULL,
  CHECK ((status = 'open') = (closed_at_us IS NULL)),
  CHECK (closed_at_us IS NULL OR closed_at_us >= opened_at_us)
);
CREATE INDEX business_complaints_by_status ON business_complaints(customer_id, status);
CREATE INDEX business_complaints_by_time ON business_complaints(customer_id, opened_at_us);
CREATE TABLE business_cooperation (
  id            TEXT    NOT NULL PRIMARY KEY,
  customer_id   TEXT    NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
  started_at_us INTEGER NOT NULL,
  ended_at_us   INTEGER CHECK (ended_at_us IS NULL OR ended_at_us >= started_at_us),
  kind          TEXT    NOT NULL,
  summary       BLOB    NOT NULL,
  created_by    TEXT    NOT NULL,
  created_at_us INTEGER NOT NULL
);
CREATE INDEX business_cooperation_by_customer ON business_cooperation(customer_id, started_at_us);
)sql";
// Migration 4: approvals, tag rules versions, tag history.
// One row per approval (every kind but role grants, which stay in
// role_requests), its items (a tag batch: one per customer), and the tag
// rules versions. Approvals and their items are never deleted (triggers
// refuse it); the decision lives on the approval row, the chosen/applied
// flags on the items. Payloads are opaque bytes of the kind's handler.
constexpr const char* kMigration4 = R"sql(
CREATE TABLE approvals (
  id              TEXT    NOT NULL PRIMARY KEY,
  kind            TEXT    NOT NULL,
  status          TEXT    NOT NULL CHECK (status IN ('filing', 'pending', 'applying',
                    'approved', 'partially_approved', 'rejected', 'expired', 'failed')),
  requested_by    TEXT    NOT NULL,
  requested_role  TEXT    NOT NULL,
  requested_at_us INTEGER NOT NULL,
  expires_at_us   INTEGER NOT NULL,
  subject         TEXT    NOT NULL,
  summary         TEXT    NOT NULL,
  payload         BLOB    NOT NULL,
  item_count      INTEGER NOT NULL,
  decided_by      TEXT    NOT NULL,
  decided_role    TEXT    NOT NULL,
  decided_at_us   INTEGER NOT NULL,
  comment         TEXT    NOT NULL,
  items_chosen    INTEGER NOT NULL,
  items_applied   INTEGER NOT NULL,
  outcome         TEXT    NOT NULL
);
CREATE INDEX approvals_by_time ON approvals(requested_at_us, id);
CREATE INDEX approvals_by_status ON approvals(status, expires_at_us);
CREATE INDEX approvals_by_subject ON approvals(subject, status) WHERE subject <> '';
CREATE TABLE approval_items (
  approval_id TEXT    NOT NULL REFERENCES approvals(id),
  seq         INTEGER NOT NULL,
  customer_id TEXT    NOT NULL,
  summary     TEXT    NOT NULL,
  payload     BLOB    NOT NULL,
  chosen      INTEGER NOT NULL,
  applied     INTEGER NOT NULL,
  PRIMARY KEY (approval_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER approvals_kept BEFORE DELETE ON approvals
BEGIN SELECT RAISE(ABORT, 'approvals are kept'); END;
CREATE TRIGGER approval_items_kept BEFORE DELETE ON approval_items
BEGIN SELECT RAISE(ABORT, 'approval items are kept'); END;
CREATE TABLE rules_versions (
  version       INTEGER NOT NULL PRIMARY KEY,
  text          TEXT    NOT NULL,
  status        TEXT    NOT NULL CHECK (status IN ('proposed', 'active', 'superseded')),
  created_by    TEXT    NOT NULL,
  created_at_us INTEGER NOT NULL,
  approval_id   TEXT    NOT NULL,
  activated_at_us INTEGER NOT NULL
);
CREATE UNIQUE INDEX rules_versions_one_active ON rules_versions(status) WHERE status = 'active';
)sql";
// Migration 5: customer self-service (R-SELF-1). One row per started
// challenge, matching or a decoy, so the rows are the rate-limit counters
// too (per customer id and per IP over the last hour, counted inside the
// inserting write transaction). customer_id is as typed and may name no
// customer, hence no foreign key. The code is kept only as a keyed MAC
// (HMAC-SM3 with the "self-service" domain key over id, salt and code),
// the change token only as its SM3 hash. Rows are deleted after a day.
constexpr const char* kMigration5 = R"sql(
CREATE TABLE self_service_challenges (
  id                  TEXT    NOT NULL PRIMARY KEY,
  customer_id         TEXT    NOT NULL,
  ip                  TEXT    NOT NULL,
  created_at_us       INTEGER NOT NULL,
  expires_at_us       INTEGER NOT NULL,
  decoy               INTEGER NOT NULL CHECK (decoy IN (0, 1)),
  code_salt           BLOB    NOT NULL,
  code_mac            BLOB    NOT NULL,
  mac_key_version     INTEGER NOT NULL,
  attempts            INTEGER NOT NULL DEFAULT 0,
  verified_at_us      INTEGER NOT NULL DEFAULT 0,
  token_hash          BLOB,
  token_expires_at_us INTEGER NOT NULL DEFAULT 0,
  token_used_at_us    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX self_service_by_customer ON self_service_challenges(customer_id, created_at_us);
CREATE INDEX self_service_by_ip ON self_service_challenges(ip, created_at_us);
CREATE INDEX self_service_by_time ON self_service_challenges(created_at_us);
CREATE UNIQUE INDEX self_service_by_token ON self_service_challenges(token_hash)
  WHERE token_hash IS NOT NULL;
)sql";
// Migration 6: backups (R-BAK-1..3, R-CRY-5). change_journal holds each
// write transaction's session patchset, split into one row per customer
// whose data it carries (so a customer's delete can blank that customer's
// rows: R-CRY-5) plus one row for the rest, written in that transaction
// (store/sqlite/change_journal.h); AUTOINCREMENT so a seq is never reused
// after the journal is pruned empty. shredded_customers is the shred ledger
// (an id and when it was deleted: ids are random, nothing personal), which
// a restore uses to shred customers deleted after its restore point.
// backup_state keeps this vault's backup and shipping cursors (not
// journaled). password_history and account_reviews had no declared primary
// key, which the session extension needs to journal a table: they are
// rebuilt with one (the old rowid becomes the id, so order and rows stay).
constexpr const char* kMigration6 = R"sql(
CREATE TABLE change_journal (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  committed_at_us INTEGER NOT NULL,
  customer_id     TEXT    NOT NULL,
  changeset       BLOB    NOT NULL
);
CREATE INDEX change_journal_by_customer ON change_journal(customer_id) WHERE customer_id <> '';
CREATE TABLE shredded_customers (
  customer_id   TEXT    NOT NULL,
  deleted_at_us INTEGER NOT NULL,
  PRIMARY KEY (customer_id, deleted_at_us)
) WITHOUT ROWID;
CREATE TABLE backup_state (
  name          TEXT    NOT NULL PRIMARY KEY,
  value         INTEGER NOT NULL,
  updated_at_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE password_history_rebuilt (
  id            INTEGER PRIMARY KEY,
  account_id    TEXT    NOT NULL REFERENCES accounts(id),
  hash          TEXT    NOT NULL,
  changed_at_us INTEGER NOT NULL
);
INSERT INTO password_history_rebuilt (id, account_id, hash, changed_at_us)
  SELECT rowid, account_id, hash, changed_at_us FROM password_history ORDER BY rowid;
DROP TABLE password_history;
ALTER TABLE password_history_rebuilt RENAME TO password_history;
CREATE INDEX password_history_by_account ON password_history(account_id, changed_at_us);
CREATE TABLE account_reviews_rebuilt (
  id             INTEGER PRIMARY KEY,
  account_id     TEXT    NOT NULL REFERENCES accounts(id),
  reviewed_by    TEXT    NOT NULL,
  reviewed_at_us INTEGER NOT NULL,
  comment        TEXT    NOT NULL
);
INSERT INTO account_reviews_rebuilt (id, account_id, reviewed_by, reviewed_at_us, comment)
  SELECT rowid, account_id, reviewed_by, reviewed_at_us, comment FROM account_reviews
  ORDER BY rowid;
DROP TABLE account_reviews;
ALTER TABLE account_reviews_rebuilt RENAME TO account_reviews;
CREATE INDEX account_reviews_by_account ON account_reviews(account_id, reviewed_at_us);
)sql";

// Migration 7: channel keys expire, rotate with an overlap and can be
// revoked (issue 11.4). Keys issued before expire a year after their
// channel was registered (the default lifetime).
constexpr char kMigration7[] = R"sql(
CREATE TABLE channels_rebuilt (
  name                    TEXT    NOT NULL PRIMARY KEY,
  api_key_hash            TEXT    NOT NULL UNIQUE,
  created_by              TEXT    NOT NULL,
  created_at_us           INTEGER NOT NULL,
  status                  TEXT    NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
  expires_at_us           INTEGER NOT NULL,
  previous_key_hash       TEXT    UNIQUE,
  previous_valid_until_us INTEGER NOT NULL DEFAULT 0,
  revoked_at_us           INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO channels_rebuilt (name, api_key_hash, created_by, created_at_us, status,
                              expires_at_us)
  SELECT name, api_key_hash, created_by, created_at_us, status,
         created_at_us + 365 * 86400000000 FROM channels;
DROP TABLE channels;
ALTER TABLE channels_rebuilt RENAME TO channels;
)sql";

// Migration 8: the search budget of each staff account (issue 10.1,
// store/search_budget_store.h): counters of its current window and its
// search lock. Not journaled (store/sqlite/change_journal.h).
constexpr char kMigration8[] = R"sql(
CREATE TABLE search_budgets (
  account_id      TEXT    NOT NULL PRIMARY KEY,
  window_start_us INTEGER NOT NULL,
  searches        INTEGER NOT NULL,
  misses          INTEGER NOT NULL,
  refused         INTEGER NOT NULL,
  locked_at_us    INTEGER NOT NULL,
  lock_reason     TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX search_budgets_locked ON search_budgets(locked_at_us) WHERE locked_at_us <> 0;
)sql";

// Migration 9: the audit outbox (R-AUD-6, docs/formats/audit-chain.md "A
// change and its entry"). Each audited change writes its entry here in its
// own transaction; the audit log chains it into audit.db and records the
// token there; rows are deleted once chained. Not journaled (the change
// journal excludes it) and emptied by a restore.
constexpr const char* kMigration9 = R"sql(
CREATE TABLE audit_outbox (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  token         BLOB    NOT NULL UNIQUE,
  written_at_us INTEGER NOT NULL,
  actor_id      TEXT    NOT NULL,
  actor_role    TEXT    NOT NULL,
  source_ip     TEXT    NOT NULL,
  operation     TEXT    NOT NULL,
  customer_id   TEXT    NOT NULL,
  result        TEXT    NOT NULL,
  details       TEXT    NOT NULL
);
)sql";

constexpr const char* kMigrations[] = {kMigration1, kMigration2, kMigration3,
                                       kMigration4, kMigration5, kMigration6,
                                       kMigration7, kMigration8, kMigration9};
constexpr int kMigrationCount = static_cast<int>(std::size(kMigrations));

constexpr char kCreateVersionTable[] =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY)";
constexpr char kVersionTableExists[] =
    "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'";
constexpr char kSelectVersion[] = "SELECT coalesce(max(version), 0) FROM schema_version";
constexpr char kInsertVersion[] = "INSERT INTO schema_version (version) VALUES (?1)";

}  // namespace

int LatestSchemaVersion() { return kMigrationCount; }

Result<int> ReadSchemaVersion(Connection& connection) {
  {
    ASSIGN_OR_RETURN(auto exists, connection.Prepare(kVersionTableExists, "read schema version"));
    ASSIGN_OR_RETURN(const bool has_table, exists->Step());
    if (!has_table) return 0;
  }
  ASSIGN_OR_RETURN(auto select, connection.Prepare(kSelectVersion, "read schema version"));
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return 0;
  return static_cast<int>(select->ColumnInt64(0));
}

Status CheckSchemaNotNewer(Connection& connection) {
  ASSIGN_OR_RETURN(const int version, ReadSchemaVersion(connection));
  if (version > LatestSchemaVersion()) {
    return Internal("database schema version " + std::to_string(version) +
                    " is newer than this build supports (" + std::to_string(LatestSchemaVersion()) +
                    "); run a newer custvault or restore a matching backup");
  }
  return Status::Ok();
}

Status ApplyMigrations(Connection& writer, int up_to_version) {
  if (up_to_version < 0 || up_to_version > LatestSchemaVersion())
    return InvalidArgument("no such schema version");
  Transaction transaction(writer);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
  RETURN_IF_ERROR(writer.Exec(kCreateVersionTable, "create schema_version"));
  ASSIGN_OR_RETURN(const int current, ReadSchemaVersion(writer));
  if (current > LatestSchemaVersion()) return CheckSchemaNotNewer(writer);
  for (int version = current + 1; version <= up_to_version; ++version) {
    RETURN_IF_ERROR(
        writer.Exec(kMigrations[version - 1], "apply migration " + std::to_string(version)));
    ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertVersion, "record schema version"));
    insert->BindInt64(1, version);
    RETURN_IF_ERROR(insert->Run());
  }
  return transaction.Commit();
}

}  // namespace custvault::store::sqlite
