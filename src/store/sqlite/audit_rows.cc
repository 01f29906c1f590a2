#include "store/sqlite/audit_rows.h"

namespace custvault::store::sqlite {

AuditEntryRow ReadAuditEntry(const Statement& select) {
  AuditEntryRow row;
  row.seq = select.ColumnInt64(0);
  row.time_us = select.ColumnInt64(1);
  row.actor_id = select.ColumnBytes(2);
  row.actor_role = select.ColumnBytes(3);
  row.source_ip = select.ColumnBytes(4);
  row.operation = select.ColumnBytes(5);
  row.customer_id = select.ColumnBytes(6);
  row.result = select.ColumnBytes(7);
  row.details = select.ColumnBytes(8);
  row.prev_hash = select.ColumnBytes(9);
  row.hash = select.ColumnBytes(10);
  return row;
}

Result<std::optional<AuditHeadRow>> ReadAuditHead(Connection& connection) {
  ASSIGN_OR_RETURN(auto select,
                   connection.Prepare("SELECT seq, hash, time_us, key_version, mac FROM audit_head "
                                      "WHERE id = 1",
                                      "read audit head"));
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return std::optional<AuditHeadRow>();
  AuditHeadRow head;
  head.seq = select->ColumnInt64(0);
  head.hash = select->ColumnBytes(1);
  head.time_us = select->ColumnInt64(2);
  head.key_version = static_cast<uint32_t>(select->ColumnInt64(3));
  head.mac = select->ColumnBytes(4);
  return std::optional<AuditHeadRow>(std::move(head));
}

Status InsertAuditEntry(Connection& connection, const AuditEntryRow& entry) {
  ASSIGN_OR_RETURN(auto insert,
                   connection.Prepare("INSERT INTO audit_entries (" CV_AUDIT_ENTRY_COLUMNS
                                      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                                      "insert audit entry"));
  insert->BindInt64(1, entry.seq);
  insert->BindInt64(2, entry.time_us);
  insert->BindText(3, entry.actor_id);
  insert->BindText(4, entry.actor_role);
  insert->BindText(5, entry.source_ip);
  insert->BindText(6, entry.operation);
  insert->BindText(7, entry.customer_id);
  insert->BindText(8, entry.result);
  insert->BindText(9, entry.details);
  insert->BindBlob(10, entry.prev_hash);
  insert->BindBlob(11, entry.hash);
  return insert->Run();
}

Status InsertAuditCheckpoint(Connection& connection, const AuditCheckpointRow& checkpoint) {
  ASSIGN_OR_RETURN(auto insert,
                   connection.Prepare("INSERT INTO audit_checkpoints (seq, hash, time_us, kind, "
                                      "key_version, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                      "insert audit checkpoint"));
  insert->BindInt64(1, checkpoint.seq);
  insert->BindBlob(2, checkpoint.hash);
  insert->BindInt64(3, checkpoint.time_us);
  insert->BindText(4, checkpoint.kind);
  insert->BindInt64(5, checkpoint.key_version);
  insert->BindBlob(6, checkpoint.mac);
  return insert->Run();
}

Status PutAuditHead(Connection& connection, const AuditHeadRow& head,
                    std::optional<int64_t> replaces_seq) {
  ASSIGN_OR_RETURN(auto put,
                   connection.Prepare(
                       "INSERT INTO audit_head (id, seq, hash, time_us, key_version, mac) "
                       "VALUES (1, ?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET "
                       "seq = excluded.seq, hash = excluded.hash, time_us = excluded.time_us, "
                       "key_version = excluded.key_version, mac = excluded.mac "
                       "WHERE ?6 IS NULL OR audit_head.seq = ?6",
                       "put audit head"));
  put->BindInt64(1, head.seq);
  put->BindBlob(2, head.hash);
  put->BindInt64(3, head.time_us);
  put->BindInt64(4, head.key_version);
  put->BindBlob(5, head.mac);
  if (replaces_seq) put->BindInt64(6, *replaces_seq);  // unbound: NULL (bindings are cleared)
  RETURN_IF_ERROR(put->Run());
  // A stored head elsewhere than `replaces_seq` (or one at all, for 0) left
  // the row as it was.
  if (replaces_seq && connection.Changes() != 1) {
    return Conflict("the audit head moved past seq " + std::to_string(*replaces_seq) +
                    " (another process appended)");
  }
  return Status::Ok();
}

Status VisitAuditEntries(Statement& select,
                         const std::function<Status(const AuditEntryView&)>& visit) {
  AuditEntryView view;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select.Step());
    if (!has_row) return Status::Ok();
    view.seq = select.ColumnInt64(0);
    view.time_us = select.ColumnInt64(1);
    view.actor_id = select.ColumnView(2);
    view.actor_role = select.ColumnView(3);
    view.source_ip = select.ColumnView(4);
    view.operation = select.ColumnView(5);
    view.customer_id = select.ColumnView(6);
    view.result = select.ColumnView(7);
    view.details = select.ColumnView(8);
    view.prev_hash = select.ColumnView(9);
    view.hash = select.ColumnView(10);
    RETURN_IF_ERROR(visit(view));
  }
}

}  // namespace custvault::store::sqlite
