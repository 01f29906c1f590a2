// The audit tables' rows in SQL, written once: the audit store
// (sqlite_audit_store) appends and scans them, and the backup's audit reader
// and restored audit database (sqlite_backup) read and rebuild them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "common/status.h"
#include "store/audit_store.h"
#include "store/sqlite/connection.h"

namespace custvault::store::sqlite {

// The columns of audit_entries in the order VisitAuditEntries reads them.
#define CV_AUDIT_ENTRY_COLUMNS \
  "seq, time_us, actor_id, actor_role, source_ip, operation, customer_id, result, details, prev_hash, hash"

// The row `select` (selecting CV_AUDIT_ENTRY_COLUMNS) stands on.
AuditEntryRow ReadAuditEntry(const Statement& select);
// The one head row, if any.
Result<std::optional<AuditHeadRow>> ReadAuditHead(Connection& connection);

Status InsertAuditEntry(Connection& connection, const AuditEntryRow& entry);
Status InsertAuditCheckpoint(Connection& connection, const AuditCheckpointRow& checkpoint);
// Inserts or replaces the one head row. With `replaces_seq`, only a head
// stored at that seq (0: none stored yet) is replaced; kConflict otherwise.
Status PutAuditHead(Connection& connection, const AuditHeadRow& head,
                    std::optional<int64_t> replaces_seq = std::nullopt);
// Steps `select` (selecting CV_AUDIT_ENTRY_COLUMNS) and calls `visit` for
// every row; the view is valid during the call only. Stops at the first
// error `visit` returns.
Status VisitAuditEntries(Statement& select,
                         const std::function<Status(const AuditEntryView&)>& visit);

}  // namespace custvault::store::sqlite
