// AuditService: the auditors' use cases over the audit log (R-AUD-2, -4):
// search, CSV export (itself audited), chain verification, alerts with
// acknowledgement, checkpoints for off-machine keeping; and Record, which
// the other services call to audit what they do.
//
// Who may use it: staff with the auditor or security_officer role, the
// bootstrap token and the local operator (the CLI run by someone who can
// read the data directory). Anyone else gets kPermissionDenied, and the
// denial is itself recorded (access.denied).
//
// Thread safety: every method may be called from many threads.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.h"
#include "audit/verify.h"
#include "common/cidr.h"
#include "common/config.h"
#include "common/env.h"
#include "crypto/keyring.h"
#include "service/actor.h"
#include "store/audit_store.h"
#include "store/store.h"

namespace custvault::service {

inline constexpr int kAuditPageLimitDefault = 100;
inline constexpr int kAuditExportRowsMax = 100'000;
inline constexpr int kAlertPageLimitDefault = 100;

struct AuditSearch {
  std::string actor_id;
  std::string customer_id;
  std::string operation;
  std::string source_ip;
  std::optional<int64_t> from_us;  // inclusive
  std::optional<int64_t> to_us;    // exclusive
  std::optional<std::string> cursor;
  std::optional<int> limit;  // 1..store::kAuditPageLimitMax (export: ..kAuditExportRowsMax)
};

struct AuditEntryPage {
  std::vector<store::AuditEntryRow> items;  // seq order
  std::optional<std::string> next_cursor;
};

struct AuditCsvExport {
  std::string csv;  // RFC 4180, CRLF line ends, a header row
  int64_t rows = 0;
  std::optional<std::string> next_cursor;  // more rows match: export again from here
};

struct AlertPage {
  std::vector<store::AlertRow> items;
  std::optional<std::string> next_cursor;
};

// The role an actor is recorded with: its staff role name, or "bootstrap",
// "local_operator", "channel", "self_service".
std::string AuditRoleOf(const Actor& actor);

// One CSV cell: quoted when it holds a comma, quote, CR or LF (quotes
// doubled); a cell starting with = + - @ TAB or CR gets a leading ' so a
// spreadsheet never runs it as a formula.
std::string CsvCell(std::string_view text);

// Where the services record what they did: AuditService in production; a
// benchmark may pass a recorder that does nothing to measure the cost of
// auditing. Record returns once the entry is durable, or fails, and then
// the caller must fail its operation too (no audit, no access).
class AuditRecorder {
 public:
  virtual ~AuditRecorder() = default;
  virtual Result<int64_t> Record(const Actor& actor, std::string_view operation,
                                 std::string_view customer_id, std::string_view result,
                                 boost::json::object details) = 0;

  // A change and its entry are durable together or not at all (R-AUD-6,
  // docs/formats/audit-chain.md "A change and its entry"):
  //  1. PrepareEntry makes the entry (checked as Record checks it);
  //  2. the store writes it to its audit outbox in the change's own
  //     transaction (store::AuditOutboxEntry);
  //  3. RecordCommitted chains it into the audit log and returns once it is
  //     durable there; only then may the change be acknowledged. If it
  //     fails the caller fails as for Record; the change stands and its
  //     entry is chained at the next open (RecoverAuditOutbox).
  virtual Result<store::AuditEntryRow> PrepareEntry(const Actor& actor,
                                                    std::string_view operation,
                                                    std::string_view customer_id,
                                                    std::string_view result,
                                                    boost::json::object details) = 0;
  virtual Result<int64_t> RecordCommitted(const store::AuditOutboxEntry& entry) = 0;
};

// Steps 1 and 3 for the services. ChangeEntry: the entry of a change, for
// the store to write with it (kUnavailable if it cannot be made).
Result<store::AuditOutboxEntry> ChangeEntry(AuditRecorder& audit, const Actor& actor,
                                            std::string_view operation,
                                            std::string_view customer_id, std::string_view result,
                                            boost::json::object details);
// RecordWithChange: chains the entry the store wrote with a change
// and lets the store delete its outbox row. kUnavailable when the entry is
// not durable (the caller's operation fails: no audit, no acknowledgement).
Status RecordWithChange(AuditRecorder& audit, store::Store& store,
                        const store::AuditOutboxEntry& entry);

class AuditService final : public AuditRecorder {
 public:
  // `env` (the clock for acknowledgements) must outlive the service.
  AuditService(Env* env, std::unique_ptr<audit::AuditLog> log, CidrSet trusted_proxies);

  // Opens D/audit.db and the audit log with the [audit] settings. The
  // keyring must hold the "audit" domain key (kNotFound otherwise).
  static Result<std::unique_ptr<AuditService>> Open(Env* env, const Config& config,
                                                    const crypto::Keyring* keyring);

  audit::AuditLog& log() { return *log_; }
  // The proxies whose X-Forwarded-For is believed (audit.trusted_proxies).
  const CidrSet& trusted_proxies() const { return trusted_proxies_; }

  // Audits one operation by `actor` and returns its seq once durable. The
  // caller must fail its operation when this fails (no audit, no access).
  // `details`: masked values or counts only.
  Result<int64_t> Record(const Actor& actor, std::string_view operation,
                         std::string_view customer_id, std::string_view result,
                         boost::json::object details = {}) override;
  Result<store::AuditEntryRow> PrepareEntry(const Actor& actor, std::string_view operation,
                                            std::string_view customer_id, std::string_view result,
                                            boost::json::object details) override;
  Result<int64_t> RecordCommitted(const store::AuditOutboxEntry& entry) override;

  // Recovery at open (R-AUD-6): chains, oldest first, every outbox row of
  // `store` whose entry audit.db does not hold (a crash between the change's
  // commit and the entry's), deletes the outbox rows, and forgets chained
  // tokens older than a day. Vault::Open runs it before any service is
  // made, so nothing is served before the trail is whole. Returns how many
  // entries it chained.
  Result<int64_t> RecoverAuditOutbox(store::Store& store);

  Result<AuditEntryPage> Search(const Actor& actor, const AuditSearch& search);
  // At most kAuditExportRowsMax rows (search.limit lowers it); recorded as
  // audit.export with the filters and the row count before it is returned.
  Result<AuditCsvExport> ExportCsv(const Actor& actor, const AuditSearch& search);
  // Verifies the whole chain; recorded as audit.verify (result "failed"
  // when damage was found).
  Result<audit::VerifyReport> Verify(const Actor& actor,
                                     const audit::VerifyProgress& progress = {});
  Result<AlertPage> Alerts(const Actor& actor, bool unacknowledged_only,
                           const std::optional<std::string>& cursor, std::optional<int> limit);
  // kNotFound / kConflict (already acknowledged); recorded as alert.ack.
  Status AcknowledgeAlert(const Actor& actor, int64_t alert_id);
  Result<std::vector<store::AuditCheckpointRow>> Checkpoints(const Actor& actor);

 private:
  // kPermissionDenied (recorded as access.denied) unless the actor may
  // read the audit log.
  Status Authorize(const Actor& actor, std::string_view what);
  Result<store::AuditQuery> QueryFor(const AuditSearch& search, int default_limit, int limit_max);

  Env* const env_;
  std::unique_ptr<audit::AuditLog> log_;
  CidrSet trusted_proxies_;
};

}  // namespace custvault::service
