// Opaque bearer credentials: session tokens ("cvs_") and channel API keys
// ("cvk_"). 32 random bytes, hex after the prefix; only the SM3 hash is
// stored, so a copy of the database does not hold a usable credential. The
// prefix makes a leaked token easy to recognise and to scan for.
#pragma once

#include <string>
#include <string_view>

#include "common/env.h"
#include "common/status.h"

namespace custvault::identity {

inline constexpr std::string_view kSessionTokenPrefix = "cvs_";
inline constexpr std::string_view kApiKeyPrefix = "cvk_";
inline constexpr size_t kTokenRandomBytes = 32;
// Longest token text worth hashing; anything longer is not ours.
inline constexpr size_t kTokenTextBytesMax = 128;

struct IssuedToken {
  std::string token;  // give to the client once; never store or log
  std::string hash;   // TokenHash(token): what the database keeps
};

Result<IssuedToken> IssueToken(Env* env, std::string_view prefix);

// Lower-case hex SM3 of the token text (64 characters).
std::string TokenHash(std::string_view token);

// Whether the text has the shape of a token with this prefix (length and
// hex digits); checked before any lookup.
bool LooksLikeToken(std::string_view token, std::string_view prefix);

// A random identifier (hex of 16 bytes) with a short prefix, e.g. "u_...",
// for rows whose ids are not secrets (accounts, sessions, requests).
Result<std::string> NewId(Env* env, std::string_view prefix);

}  // namespace custvault::identity
