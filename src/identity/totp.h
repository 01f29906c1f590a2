// TOTP second factor (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 30-second
// steps, 6 digits, one step of clock tolerance either way, and replay
// protection through the last accepted step, which the caller stores per
// account. SHA-1 is what every authenticator app implements for TOTP; as
// an HMAC it is not affected by SHA-1 collisions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/status.h"
#include "crypto/secret.h"

namespace custvault::identity {

inline constexpr int64_t kTotpStepSeconds = 30;
inline constexpr int kTotpDigits = 6;
inline constexpr int64_t kTotpToleranceSteps = 1;
inline constexpr size_t kTotpSecretBytes = 20;  // 160 bits, RFC 4226's recommendation

// RFC 4226 HOTP value for `counter`, `digits` long (6..8), zero-padded.
std::string Hotp(std::string_view secret, uint64_t counter, int digits);

// The time step of a Unix time (floor(t / 30)).
int64_t TotpStep(int64_t unix_seconds);

// The code for a Unix time.
std::string TotpCode(std::string_view secret, int64_t unix_seconds, int digits = kTotpDigits);

// Checks `code` against the steps T-1, T, T+1 around `unix_seconds` that
// are later than `last_accepted_step` (a code at or before it is a replay).
// Returns the matched step, to be stored as the new last accepted step, or
// nullopt. Codes are compared in constant time; a code that is not exactly
// kTotpDigits ASCII digits never matches.
std::optional<int64_t> VerifyTotp(std::string_view secret, std::string_view code,
                                  int64_t unix_seconds, int64_t last_accepted_step);

// A fresh random secret of kTotpSecretBytes.
Result<crypto::SecretBytes> NewTotpSecret(Env* env);

// otpauth://totp/<issuer>:<account>?secret=<base32>&issuer=<issuer>&
// algorithm=SHA1&digits=6&period=30 (Key Uri Format, what QR enrolment
// encodes). The URI contains the secret: show it once, never log it.
std::string OtpauthUri(std::string_view issuer, std::string_view account,
                       std::string_view secret);

}  // namespace custvault::identity
