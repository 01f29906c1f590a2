// Byte encodings used at the edges: hex for test vectors and digests,
// base64 (RFC 4648, with padding) for binary fields in JSON and cursors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace custvault {

std::string HexEncode(std::string_view bytes);
// Accepts upper or lower case; kInvalidArgument on odd length or bad digit.
Result<std::string> HexDecode(std::string_view hex);

std::string Base64Encode(std::string_view bytes);
// Strict: standard alphabet, padding required, no whitespace.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace custvault
