#include "store/fields_blob.h"

#include <cstdint>

namespace custvault::store {
namespace {

// Unsigned LEB128, at most 5 bytes for a 32-bit value.
void AppendVarint32(std::string& out, uint32_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

// Reads one varint at `pos`, advancing it. Rejects truncation, more than 5
// bytes, a value over 32 bits and non-minimal encodings (a trailing zero
// group), so every value has exactly one encoding and a blob can be compared
// byte for byte.
bool ReadVarint32(std::string_view in, size_t& pos, uint32_t& value) {
  uint64_t result = 0;
  for (int shift = 0, i = 0; i < 5; ++i, shift += 7) {
    if (pos >= in.size()) return false;
    const uint8_t byte = static_cast<uint8_t>(in[pos++]);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (i > 0 && byte == 0) return false;  // non-minimal
      if (result > UINT32_MAX) return false;
      value = static_cast<uint32_t>(result);
      return true;
    }
  }
  return false;  // longer than 5 bytes
}

// Reads a length-prefixed byte string of at most `max_bytes`.
bool ReadBytes(std::string_view in, size_t& pos, size_t max_bytes, std::string_view& out) {
  uint32_t length = 0;
  if (!ReadVarint32(in, pos, length)) return false;
  if (length > max_bytes || length > in.size() - pos) return false;
  out = in.substr(pos, length);
  pos += length;
  return true;
}

}  // namespace

Status ValidateFields(const std::map<std::string, std::string>& fields) {
  if (fields.size() > kFieldsBlobFieldsMax) return InvalidArgument("too many fields in one record");
  size_t total = 1 + 5;
  for (const auto& [key, value] : fields) {
    if (key.empty()) return InvalidArgument("empty field key");
    if (key.size() > kFieldKeyBytesMax) return InvalidArgument("field key too long");
    if (value.size() > kFieldValueBytesMax)
      return InvalidArgument("stored value of field '" + key + "' too large");
    total += 10 + key.size() + value.size();
  }
  if (total > kFieldsBlobBytesMax) return InvalidArgument("record fields too large in total");
  return Status::Ok();
}

std::string EncodeFieldsBlob(const std::map<std::string, std::string>& fields) {
  size_t size = 1 + 5;
  for (const auto& [key, value] : fields) size += 10 + key.size() + value.size();
  std::string out;
  out.reserve(size);
  out += static_cast<char>(kFieldsBlobVersion);
  AppendVarint32(out, static_cast<uint32_t>(fields.size()));
  for (const auto& [key, value] : fields) {
    AppendVarint32(out, static_cast<uint32_t>(key.size()));
    out += key;
    AppendVarint32(out, static_cast<uint32_t>(value.size()));
    out += value;
  }
  return out;
}

Result<std::map<std::string, std::string>> DecodeFieldsBlob(std::string_view blob) {
  if (blob.size() > kFieldsBlobBytesMax) return DataLoss("fields blob over its size limit");
  if (blob.empty()) return DataLoss("fields blob is empty");
  if (static_cast<uint8_t>(blob[0]) != kFieldsBlobVersion)
    return DataLoss("fields blob has an unknown version");
  size_t pos = 1;
  uint32_t count = 0;
  if (!ReadVarint32(blob, pos, count)) return DataLoss("fields blob count is malformed");
  if (count > kFieldsBlobFieldsMax) return DataLoss("fields blob count over its limit");
  // Each entry takes at least 3 bytes (key length, one key byte, value
  // length): a count the remaining bytes cannot hold is refused before any
  // work is done.
  if (count > (blob.size() - pos) / 3) return DataLoss("fields blob count exceeds its size");
  std::map<std::string, std::string> fields;
  std::string_view previous_key;
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view key;
    std::string_view value;
    if (!ReadBytes(blob, pos, kFieldKeyBytesMax, key))
      return DataLoss("fields blob key is malformed");
    if (key.empty()) return DataLoss("fields blob has an empty key");
    if (i > 0 && key <= previous_key)
      return DataLoss("fields blob keys are not strictly ascending");
    if (!ReadBytes(blob, pos, kFieldValueBytesMax, value))
      return DataLoss("fields blob value is malformed");
    fields.emplace_hint(fields.end(), std::string(key), std::string(value));
    previous_key = key;
  }
  if (pos != blob.size()) return DataLoss("fields blob has trailing bytes");
  return fields;
}

Result<std::optional<std::string_view>> FindFieldInBlob(std::string_view blob,
                                                        std::string_view wanted) {
  if (blob.size() > kFieldsBlobBytesMax) return DataLoss("fields blob over its size limit");
  if (blob.empty()) return DataLoss("fields blob is empty");
  if (static_cast<uint8_t>(blob[0]) != kFieldsBlobVersion)
    return DataLoss("fields blob has an unknown version");
  size_t pos = 1;
  uint32_t count = 0;
  if (!ReadVarint32(blob, pos, count)) return DataLoss("fields blob count is malformed");
  if (count > kFieldsBlobFieldsMax) return DataLoss("fields blob count over its limit");
  if (count > (blob.size() - pos) / 3) return DataLoss("fields blob count exceeds its size");
  std::string_view previous_key;
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view key;
    std::string_view value;
    if (!ReadBytes(blob, pos, kFieldKeyBytesMax, key))
      return DataLoss("fields blob key is malformed");
    if (key.empty()) return DataLoss("fields blob has an empty key");
    if (i > 0 && key <= previous_key)
      return DataLoss("fields blob keys are not strictly ascending");
    if (!ReadBytes(blob, pos, kFieldValueBytesMax, value))
      return DataLoss("fields blob value is malformed");
    if (key == wanted) return std::optional<std::string_view>(value);
    // Keys ascend: once past the wanted key it is not there.
    if (key > wanted) return std::optional<std::string_view>();
    previous_key = key;
  }
  if (pos != blob.size()) return DataLoss("fields blob has trailing bytes");
  return std::optional<std::string_view>();
}

}  // namespace custvault::store
