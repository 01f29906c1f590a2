#include "backup/records.h"

namespace custvault::backup {
namespace {

void U32(std::string* out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((value >> shift) & 0xff));
}
void I64(std::string* out, int64_t value) {
  const uint64_t bits = static_cast<uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((bits >> shift) & 0xff));
}
void Bytes(std::string* out, std::string_view bytes) {
  U32(out, static_cast<uint32_t>(bytes.size()));
  out->append(bytes);
}

// Reads fields from a complete-or-not buffer; `ok` false once a field runs
// past the end (the record is incomplete, not necessarily bad).
class FieldReader {
 public:
  explicit FieldReader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  bool too_large() const { return too_large_; }
  size_t pos() const { return pos_; }

  uint8_t Byte() {
    if (!Need(1)) return 0;
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(data_[pos_++]);
    return value;
  }
  int64_t I64() {
    if (!Need(8)) return 0;
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(data_[pos_++]);
    return static_cast<int64_t>(value);
  }
  std::string Bytes() {
    const uint32_t size = U32();
    if (!ok_) return {};
    if (size > kRecordFieldBytesMax) {
      too_large_ = true;
      ok_ = false;
      return {};
    }
    if (!Need(size)) return {};
    std::string value(data_.substr(pos_, size));
    pos_ += size;
    return value;
  }

 private:
  bool Need(size_t n) {
    if (!ok_ || data_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
  bool too_large_ = false;
};

}  // namespace

void AppendJournalRecord(int64_t seq, int64_t committed_at_us, std::string_view patchset,
                         std::string* out) {
  out->push_back('J');
  I64(out, seq);
  I64(out, committed_at_us);
  Bytes(out, patchset);
}

void AppendEntryRecord(const store::AuditEntryView& e, std::string* out) {
  out->push_back('E');
  I64(out, e.seq);
  I64(out, e.time_us);
  for (std::string_view field : {e.actor_id, e.actor_role, e.source_ip, e.operation,
                                 e.customer_id, e.result, e.details, e.prev_hash, e.hash}) {
    Bytes(out, field);
  }
}

void AppendCheckpointRecord(int64_t rowid, const store::AuditCheckpointRow& c, std::string* out) {
  out->push_back('C');
  I64(out, rowid);
  I64(out, c.seq);
  Bytes(out, c.hash);
  I64(out, c.time_us);
  Bytes(out, c.kind);
  U32(out, c.key_version);
  Bytes(out, c.mac);
}

void AppendHeadRecord(const store::AuditHeadRow& head, std::string* out) {
  out->push_back('H');
  I64(out, head.seq);
  Bytes(out, head.hash);
  I64(out, head.time_us);
  U32(out, head.key_version);
  Bytes(out, head.mac);
}

void AppendAlertRecord(const store::AlertRow& a, std::string* out) {
  out->push_back('A');
  I64(out, a.id);
  Bytes(out, a.rule);
  Bytes(out, a.actor_id);
  I64(out, a.time_us);
  Bytes(out, a.summary);
  Bytes(out, a.acknowledged_by);
  I64(out, a.acknowledged_at_us);
}

void AppendLoginIpRecord(const store::LoginIpRow& login, std::string* out) {
  out->push_back('L');
  Bytes(out, login.actor_id);
  Bytes(out, login.source_ip);
}

Status RecordDecoder::Feed(std::string_view bytes, const std::function<Status(Record&&)>& visit) {
  pending_.append(bytes);
  size_t consumed = 0;
  while (consumed < pending_.size()) {
    FieldReader in(std::string_view(pending_).substr(consumed));
    const uint8_t type = in.Byte();
    Record record;
    switch (type) {
      case 'J': {
        JournalRecord r;
        r.seq = in.I64();
        r.committed_at_us = in.I64();
        r.patchset = in.Bytes();
        record = std::move(r);
        break;
      }
      case 'E': {
        store::AuditEntryRow e;
        e.seq = in.I64();
        e.time_us = in.I64();
        e.actor_id = in.Bytes();
        e.actor_role = in.Bytes();
        e.source_ip = in.Bytes();
        e.operation = in.Bytes();
        e.customer_id = in.Bytes();
        e.result = in.Bytes();
        e.details = in.Bytes();
        e.prev_hash = in.Bytes();
        e.hash = in.Bytes();
        record = std::move(e);
        break;
      }
      case 'C': {
        CheckpointRecord c;
        c.rowid = in.I64();
        c.row.seq = in.I64();
        c.row.hash = in.Bytes();
        c.row.time_us = in.I64();
        c.row.kind = in.Bytes();
        c.row.key_version = in.U32();
        c.row.mac = in.Bytes();
        record = std::move(c);
        break;
      }
      case 'H': {
        store::AuditHeadRow h;
        h.seq = in.I64();
        h.hash = in.Bytes();
        h.time_us = in.I64();
        h.key_version = in.U32();
        h.mac = in.Bytes();
        record = std::move(h);
        break;
      }
      case 'A': {
        store::AlertRow a;
        a.id = in.I64();
        a.rule = in.Bytes();
        a.actor_id = in.Bytes();
        a.time_us = in.I64();
        a.summary = in.Bytes();
        a.acknowledged_by = in.Bytes();
        a.acknowledged_at_us = in.I64();
        record = std::move(a);
        break;
      }
      case 'L': {
        store::LoginIpRow l;
        l.actor_id = in.Bytes();
        l.source_ip = in.Bytes();
        record = std::move(l);
        break;
      }
      default:
        return DataLoss(where_ + ": unknown record type at byte " +
                        std::to_string(offset_ + static_cast<int64_t>(consumed)));
    }
    if (in.too_large()) {
      return DataLoss(where_ + ": record field over the limit at byte " +
                      std::to_string(offset_ + static_cast<int64_t>(consumed)));
    }
    if (!in.ok()) break;  // the rest of this record comes with the next bytes
    consumed += in.pos();
    RETURN_IF_ERROR(visit(std::move(record)));
  }
  pending_.erase(0, consumed);
  offset_ += static_cast<int64_t>(consumed);
  return Status::Ok();
}

Status RecordDecoder::Finish() const {
  if (!pending_.empty()) {
    return DataLoss(where_ + ": ends inside a record at byte " + std::to_string(offset_));
  }
  return Status::Ok();
}

}  // namespace custvault::backup
