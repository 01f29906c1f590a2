#include "store/sqlite/patchset.h"

namespace custvault::store::sqlite {
namespace {

constexpr size_t kColumnsMax = 2000;  // SQLite's SQLITE_MAX_COLUMN

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  size_t pos() const { return pos_; }
  uint8_t Peek() const { return static_cast<uint8_t>(data_[pos_]); }

  bool Byte(uint8_t* out) {
    if (pos_ >= data_.size()) return false;
    *out = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  // SQLite's varint: big-endian 7-bit groups, high bit set on all but the
  // last; the ninth byte, if reached, gives 8 bits.
  bool Varint(uint64_t* out) {
    uint64_t value = 0;
    for (int i = 0; i < 9; ++i) {
      uint8_t byte = 0;
      if (!Byte(&byte)) return false;
      if (i == 8) {
        *out = (value << 8) | byte;
        return true;
      }
      value = (value << 7) | (byte & 0x7f);
      if ((byte & 0x80) == 0) {
        *out = value;
        return true;
      }
    }
    return false;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (n > data_.size() - pos_) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Value(PatchsetValue* out) {
    uint8_t type = 0;
    if (!Byte(&type)) return false;
    out->type = static_cast<PatchsetValue::Type>(type);
    switch (type) {
      case PatchsetValue::kUndefined:
      case PatchsetValue::kNull:
        return true;
      case PatchsetValue::kInteger:
      case PatchsetValue::kReal: {
        std::string_view raw;
        if (!Bytes(8, &raw)) return false;
        uint64_t value = 0;
        for (char c : raw) value = (value << 8) | static_cast<uint8_t>(c);
        out->integer = static_cast<int64_t>(value);
        if (type == PatchsetValue::kReal) out->bytes = raw;
        return true;
      }
      case PatchsetValue::kText:
      case PatchsetValue::kBlob: {
        uint64_t length = 0;
        if (!Varint(&length) || length > data_.size()) return false;
        return Bytes(static_cast<size_t>(length), &out->bytes);
      }
      default:
        return false;
    }
  }
  std::string_view Slice(size_t from) const { return data_.substr(from, pos_ - from); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

Status Malformed(size_t at) {
  return DataLoss("malformed change journal patchset at byte " + std::to_string(at));
}

}  // namespace

Status ForEachPatchsetChange(std::string_view patchset,
                             const std::function<Status(const PatchsetChange&)>& visit) {
  Reader in(patchset);
  PatchsetTable table;
  bool have_table = false;
  PatchsetChange change;
  while (!in.done()) {
    const size_t start = in.pos();
    const uint8_t kind = in.Peek();
    if (kind == 'P') {
      uint8_t marker = 0;
      uint64_t columns = 0;
      in.Byte(&marker);
      if (!in.Varint(&columns) || columns == 0 || columns > kColumnsMax) return Malformed(start);
      std::string_view flags;
      if (!in.Bytes(static_cast<size_t>(columns), &flags)) return Malformed(start);
      table.primary_key.assign(flags.size(), false);
      for (size_t i = 0; i < flags.size(); ++i) table.primary_key[i] = flags[i] != 0;
      const size_t name_start = in.pos();
      uint8_t byte = 1;
      while (in.Byte(&byte) && byte != 0) {
      }
      if (byte != 0 || in.pos() - 1 == name_start) return Malformed(start);
      table.name = in.Slice(name_start);
      table.name.remove_suffix(1);  // the NUL
      table.header = in.Slice(start);
      have_table = true;
      continue;
    }
    if (kind == 'T') return DataLoss("change journal row is a changeset, not a patchset");
    if (!have_table) return Malformed(start);
    uint8_t op = 0, indirect = 0;
    in.Byte(&op);
    if (!in.Byte(&indirect)) return Malformed(start);
    if (op != kPatchsetInsert && op != kPatchsetUpdate && op != kPatchsetDelete)
      return Malformed(start);
    size_t fields = table.primary_key.size();
    if (op == kPatchsetDelete) {
      fields = 0;
      for (bool key : table.primary_key) fields += key ? 1 : 0;
    }
    change.table = &table;
    change.op = op;
    change.values.resize(fields);
    for (size_t i = 0; i < fields; ++i) {
      change.values[i] = PatchsetValue();
      if (!in.Value(&change.values[i])) return Malformed(start);
    }
    change.bytes = in.Slice(start);
    RETURN_IF_ERROR(visit(change));
  }
  return Status::Ok();
}

}  // namespace custvault::store::sqlite
