// The change journal of custvault.db: what every committed write
// transaction of the writer connection changed, as SQLite session
// patchsets, in the table change_journal (migration 6), written inside the
// same transaction as the change itself. Incremental backups and continuous
// shipping read it (backup/); a restore replays it with
// sqlite3changeset_apply. docs/formats/backup-archive.md describes it.
//
// One transaction becomes one row per customer whose data it inserted or
// updated (customer_id set; customers rows and every table with a
// customer_id column except shredded_customers and approval_items) plus
// one row for everything else (customer_id ''), all with the same
// committed_at_us. Deletes go to the '' row: a patchset delete carries only
// the primary key. So when a customer is deleted, ScrubCustomer blanks that
// customer's rows in the same transaction and the journal keeps none of the
// customer's ciphertext or wrapped key (R-CRY-5); the restore treats a
// delete that finds nothing to delete as done.
//
// Patchsets rather than changesets: an update carries only the new values,
// a delete only the key (no old row to keep or scrub), and the restore
// still refuses an insert that collides or an update whose row is missing.
//
// Which tables are journaled: every table of the main database except the
// ones JournalExcludedTable names (the journal itself, login sessions,
// backup bookkeeping, SQLite's own). A journaled table must have a
// declared PRIMARY KEY: the session extension silently ignores tables
// without one (a test checks every table of the schema).
//
// PostgreSQL will follow the same logical design: a change_journal table
// filled by the same transaction (from the application or a trigger), with
// seq, committed_at_us, customer_id and a portable change record.
//
// Thread safety: a SessionJournal belongs to one connection and is used by
// whoever holds that connection (the writer lease).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "store/sqlite/connection.h"

struct sqlite3_session;

namespace custvault::store::sqlite {

struct PatchsetChange;

inline constexpr char kChangeJournalTable[] = "change_journal";
inline constexpr char kShreddedCustomersTable[] = "shredded_customers";
inline constexpr char kBackupStateTable[] = "backup_state";

// Tables whose changes are not journaled, and why:
//   change_journal      the journal itself
//   sessions            login sessions: a restored vault starts with none
//                       (every user logs in again), and last_seen updates on
//                       every request would fill the journal
//   backup_state        backup/shipping cursors of THIS vault, meaningless in
//                       a restored one (it starts a new chain)
//   schema_version      changed only by migrations, which run unjournaled
//                       (a schema change needs a new full backup)
//   self_service_challenges  one-day customer self-service challenges and
//                       their rate-limit counts: worthless after a restore
//   search_budgets      per-account search counters, changed by every search
//                       (they would fill the journal); a restored vault
//                       starts with fresh budgets and no search locks
//   audit_outbox        audit entries on their way to audit.db (R-AUD-6),
//                       deleted once chained; audit.db carries the entries
//   sqlite_*            SQLite's own (sqlite_sequence, sqlite_stat1)
bool JournalExcludedTable(std::string_view table);

// Records each write transaction with sqlite3session (attached to every
// table JournalExcludedTable lets through) and inserts its patchset, split
// by customer, into change_journal just before COMMIT. An empty patchset
// (nothing changed, or every change rolled back to a savepoint) adds no
// row. committed_at_us is env's clock, never less than the previous row's
// (so a time range of the journal is a seq range even if the clock steps
// back, or another process wrote with a clock ahead of ours).
class SessionJournal final : public WriteJournal {
 public:
  explicit SessionJournal(Env* env) : env_(env) {}
  ~SessionJournal() override;

  Status Start(Connection& connection) override;
  Status BeforeCommit(Connection& connection) override;
  void Abandon() override;

  // Rows written by this object (for tests and stats).
  int64_t rows_written() const { return rows_written_; }

 private:
  struct TableInfo {
    int customer_column = -1;  // -1: the table's rows belong to no customer
    std::vector<std::string> columns;
  };
  Result<const TableInfo*> Table(Connection& connection, std::string_view name);
  // The customer whose data a change carries ("" for none): a view into
  // the change, or into *looked_up when it had to be read from the table.
  Result<std::string_view> CustomerOf(Connection& connection, const PatchsetChange& change,
                                      std::deque<std::string>* looked_up);

  Env* env_;
  ::sqlite3_session* session_ = nullptr;
  int64_t rows_written_ = 0;
  std::map<std::string, TableInfo, std::less<>> tables_;
};

// Blanks (empty patchset, customer_id '') every journal row that carries
// the customer's data; DeleteCustomer calls it in its transaction.
Status ScrubCustomerFromJournal(Connection& writer, const std::string& customer_id);

// Whether the database has the change_journal table (migration 6 applied).
Result<bool> HasChangeJournal(Connection& connection);

}  // namespace custvault::store::sqlite
