// The records inside an incremental's (or a shipped segment's) pieces
// (docs/formats/backup-archive.md): the raw bytes of the "journal" and
// "audit" pieces are a sequence of records, each a type byte and its
// fields; integers are big-endian (u64/i64: 8 bytes, u32: 4 bytes), byte
// strings a u32 length and the bytes. Records run across chunk boundaries;
// RecordDecoder takes the bytes chunk by chunk.
//
//   'J' journal row:  u64 seq | i64 committed_at_us | bytes patchset
//   'E' audit entry:  i64 seq | i64 time_us | bytes actor_id | actor_role |
//                     source_ip | operation | customer_id | result | details |
//                     prev_hash | hash
//   'C' checkpoint:   i64 rowid | i64 seq | bytes hash | i64 time_us |
//                     bytes kind | u32 key_version | bytes mac
//   'H' head:         i64 seq | bytes hash | i64 time_us | u32 key_version | bytes mac
//   'A' alert:        i64 id | bytes rule | bytes actor_id | i64 time_us |
//                     bytes summary | bytes acknowledged_by | i64 acknowledged_at_us
//   'L' login IP:     bytes actor_id | bytes source_ip
//
// Thread safety: values and one decoder per thread. Errors: kDataLoss for
// an unknown type, a field past the end of the piece, or a field over
// kRecordFieldBytesMax.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include "common/status.h"
#include "store/audit_store.h"

namespace custvault::backup {

inline constexpr size_t kRecordFieldBytesMax = size_t{1} << 30;

struct JournalRecord {
  int64_t seq = 0;
  int64_t committed_at_us = 0;
  std::string patchset;
};

struct CheckpointRecord {
  int64_t rowid = 0;
  store::AuditCheckpointRow row;
};

using Record = std::variant<JournalRecord, store::AuditEntryRow, CheckpointRecord,
                            store::AuditHeadRow, store::AlertRow, store::LoginIpRow>;

void AppendJournalRecord(int64_t seq, int64_t committed_at_us, std::string_view patchset,
                         std::string* out);
void AppendEntryRecord(const store::AuditEntryView& entry, std::string* out);
void AppendCheckpointRecord(int64_t rowid, const store::AuditCheckpointRow& checkpoint,
                            std::string* out);
void AppendHeadRecord(const store::AuditHeadRow& head, std::string* out);
void AppendAlertRecord(const store::AlertRow& alert, std::string* out);
void AppendLoginIpRecord(const store::LoginIpRow& login, std::string* out);

class RecordDecoder {
 public:
  // `where` names the piece in errors ("backup B: piece journal").
  explicit RecordDecoder(std::string where) : where_(std::move(where)) {}
  // Feeds the next bytes of the piece; calls `visit` for every record they complete.
  Status Feed(std::string_view bytes, const std::function<Status(Record&&)>& visit);
  // At the end of the piece: kDataLoss if a record was left unfinished.
  Status Finish() const;

 private:
  std::string where_;
  std::string pending_;
  int64_t offset_ = 0;  // of pending_'s first byte in the piece
};

}  // namespace custvault::backup
