#include "identity/totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/secret.h"
#include "identity/base32.h"

namespace custvault::identity {
namespace {

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace

std::string Hotp(std::string_view secret, uint64_t counter, int digits) {
  uint8_t message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_length = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), message, sizeof message, mac,
       &mac_length);
  // Dynamic truncation (RFC 4226 section 5.3).
  const int offset = mac[mac_length - 1] & 0x0f;
  const uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                          (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                          (static_cast<uint32_t>(mac[offset + 2]) << 8) |
                          static_cast<uint32_t>(mac[offset + 3]);
  OPENSSL_cleanse(mac, sizeof mac);
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code = std::to_string(binary % modulus);
  return std::string(static_cast<size_t>(digits) - code.size(), '0') + code;
}

int64_t TotpStep(int64_t unix_seconds) {
  // Floor division, so times before 1970 (tests only) do not round up.
  return unix_seconds >= 0 ? unix_seconds / kTotpStepSeconds
                           : -((-unix_seconds + kTotpStepSeconds - 1) / kTotpStepSeconds);
}

std::string TotpCode(std::string_view secret, int64_t unix_seconds, int digits) {
  return Hotp(secret, static_cast<uint64_t>(TotpStep(unix_seconds)), digits);
}

std::optional<int64_t> VerifyTotp(std::string_view secret, std::string_view code,
                                  int64_t unix_seconds, int64_t last_accepted_step) {
  if (code.size() != static_cast<size_t>(kTotpDigits)) return std::nullopt;
  for (char c : code) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const int64_t now_step = TotpStep(unix_seconds);
  std::optional<int64_t> matched;
  // Every candidate is computed and compared, matched or not, so the time
  // taken does not tell which step (if any) matched.
  for (int64_t step = now_step - kTotpToleranceSteps; step <= now_step + kTotpToleranceSteps;
       ++step) {
    if (step < 0) continue;
    const std::string expected = Hotp(secret, static_cast<uint64_t>(step), kTotpDigits);
    const bool equal = crypto::ConstantTimeEqual(expected, code);
    if (equal && step > last_accepted_step && !matched.has_value()) matched = step;
  }
  return matched;
}

Result<crypto::SecretBytes> NewTotpSecret(Env* env) {
  crypto::SecretBytes secret(kTotpSecretBytes);
  RETURN_IF_ERROR(env->RandomBytes({secret.data(), secret.size()}));
  return secret;
}

std::string OtpauthUri(std::string_view issuer, std::string_view account,
                       std::string_view secret) {
  return "otpauth://totp/" + PercentEncode(issuer) + ":" + PercentEncode(account) +
         "?secret=" + Base32Encode(secret, /*pad=*/false) + "&issuer=" + PercentEncode(issuer) +
         "&algorithm=SHA1&digits=" + std::to_string(kTotpDigits) +
         "&period=" + std::to_string(kTotpStepSeconds);
}

}  // namespace custvault::identity
