// The fields blob: a customer's field map (field key -> stored bytes) as one
// compact, self-delimiting byte string, so a customer row is one column that
// a store reads and writes in one piece. The format is documented in
// docs/formats/database-schema.md ("fields blob").
//
// The decoder is a parser of bytes read back from disk: it is strict and
// never trusts a length. Anything malformed (truncated, overlong varint,
// length past the end, keys out of order or repeated, trailing bytes, over a
// limit) is kDataLoss, never a crash or a partial map.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace custvault::store {

inline constexpr uint8_t kFieldsBlobVersion = 1;
inline constexpr size_t kFieldsBlobFieldsMax = 1024;
inline constexpr size_t kFieldKeyBytesMax = 128;
inline constexpr size_t kFieldValueBytesMax = 4 * 1024 * 1024;
inline constexpr size_t kFieldsBlobBytesMax = 16 * 1024 * 1024;

// kInvalidArgument if the map breaks a limit (count, key or value size, empty
// key). Callers validate before they write, so a blob on disk is always one
// the decoder accepts.
Status ValidateFields(const std::map<std::string, std::string>& fields);

// Encodes a map that passed ValidateFields.
std::string EncodeFieldsBlob(const std::map<std::string, std::string>& fields);

// Decodes a blob; kDataLoss on any malformation.
Result<std::map<std::string, std::string>> DecodeFieldsBlob(std::string_view blob);

// The stored bytes of one field without decoding the others (a view into
// `blob`), std::nullopt when the record does not have it. The same strict
// checks as DecodeFieldsBlob on every entry read up to it; kDataLoss on
// any malformation met on the way. (Re-classification reads one field of
// a million records.)
Result<std::optional<std::string_view>> FindFieldInBlob(std::string_view blob,
                                                        std::string_view key);

}  // namespace custvault::store
