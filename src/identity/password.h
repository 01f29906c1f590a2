// Passwords (R-ACC-4): the complexity policy and argon2id hashing.
//
// Hashes are argon2id in the PHC encoded form
// ("$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>"), so each stored hash
// carries its own parameters and old hashes still verify after the
// configuration changes. Verification is argon2id_verify, which compares
// in constant time. Thread safety: all functions may be called from many
// threads; each hash uses `memory_kib` of memory while it runs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/env.h"
#include "common/status.h"

namespace custvault::identity {

// Longest password accepted (bytes), so a request cannot make us hash
// megabytes; far above any passphrase a person types.
inline constexpr size_t kPasswordBytesMax = 256;
inline constexpr size_t kPasswordSaltBytes = 16;
inline constexpr size_t kPasswordHashBytes = 32;

struct Argon2Params {
  uint32_t memory_kib = 65536;
  uint32_t iterations = 3;
  uint32_t parallelism = 1;
};
Argon2Params Argon2ParamsFrom(const AuthConfig& config);

// Checks a new password: at least config.password_length_min characters
// (Unicode code points), an upper-case and a lower-case letter, a digit and
// a special character (anything else printable, non-ASCII included), no
// control characters, valid UTF-8, at most kPasswordBytesMax bytes, and not
// containing the username (case-insensitive). kValidationFailed with one
// FieldError {"password", reason} per broken rule; reasons: "too_short",
// "too_long", "no_upper", "no_lower", "no_digit", "no_special",
// "contains_username", "control_character", "encoding".
Status CheckPasswordPolicy(std::string_view password, std::string_view username,
                           const AuthConfig& config);

// A fresh random salt from env, then argon2id. kInvalidArgument for a
// password over kPasswordBytesMax; kInternal if argon2 fails (e.g. memory).
Result<std::string> HashPassword(Env* env, std::string_view password, const Argon2Params& params);

// true if `password` matches the encoded hash (constant-time), false if
// not. kDataLoss for an encoded string argon2 cannot parse. A password over
// kPasswordBytesMax is simply false.
Result<bool> VerifyPassword(std::string_view encoded_hash, std::string_view password);

// Whether the encoded hash was made with other parameters than `params`
// (then the login re-hashes the password it just verified).
bool NeedsRehash(std::string_view encoded_hash, const Argon2Params& params);

// A random password that satisfies the policy for `length` characters
// (>= 16), for the one-time initial passwords.
Result<std::string> GenerateOneTimePassword(Env* env, size_t length);

}  // namespace custvault::identity
