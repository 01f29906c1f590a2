// Base32 (RFC 4648 section 6, alphabet A-Z 2-7), used for TOTP secrets in
// otpauth:// URIs, which authenticator apps expect in this form.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace custvault::identity {

// With '=' padding to a multiple of 8 characters when `pad` is set (the
// RFC's form); authenticator URIs use it without padding.
std::string Base32Encode(std::string_view bytes, bool pad = true);

// Accepts upper or lower case, with or without correct padding; no blanks.
// kInvalidArgument for any other character, a length no encoder produces,
// or non-zero bits left over in the last character.
Result<std::string> Base32Decode(std::string_view text);

}  // namespace custvault::identity
