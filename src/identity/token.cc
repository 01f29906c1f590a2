#include "identity/token.h"

#include <array>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "crypto/secret.h"

namespace custvault::identity {

Result<IssuedToken> IssueToken(Env* env, std::string_view prefix) {
  crypto::SecretBytes raw(kTokenRandomBytes);
  RETURN_IF_ERROR(env->RandomBytes({raw.data(), raw.size()}));
  IssuedToken issued;
  issued.token = std::string(prefix) + HexEncode(raw.view());
  issued.hash = TokenHash(issued.token);
  return issued;
}

std::string TokenHash(std::string_view token) {
  return HexEncode(crypto::DigestView(crypto::Sm3(token)));
}

bool LooksLikeToken(std::string_view token, std::string_view prefix) {
  if (token.size() != prefix.size() + 2 * kTokenRandomBytes) return false;
  if (token.substr(0, prefix.size()) != prefix) return false;
  for (char c : token.substr(prefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> NewId(Env* env, std::string_view prefix) {
  std::array<uint8_t, 16> raw;
  RETURN_IF_ERROR(env->RandomBytes(raw));
  return std::string(prefix) +
         HexEncode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

}  // namespace custvault::identity
