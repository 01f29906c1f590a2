#include "identity/password.h"

#include <argon2.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace custvault::identity {
namespace {

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Counts UTF-8 code points; -1 for malformed UTF-8.
int64_t CodePoints(std::string_view text) {
  int64_t count = 0;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (length == 0 || i + length > text.size()) return -1;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return -1;
    }
    i += length;
    ++count;
  }
  return count;
}

std::string ParamsPrefix(const Argon2Params& params) {
  return "$argon2id$v=19$m=" + std::to_string(params.memory_kib) +
         ",t=" + std::to_string(params.iterations) + ",p=" + std::to_string(params.parallelism) +
         "$";
}

}  // namespace

Argon2Params Argon2ParamsFrom(const AuthConfig& config) {
  return {static_cast<uint32_t>(config.argon2_memory_kib),
          static_cast<uint32_t>(config.argon2_iterations),
          static_cast<uint32_t>(config.argon2_parallelism)};
}

Status CheckPasswordPolicy(std::string_view password, std::string_view username,
                           const AuthConfig& config) {
  std::vector<FieldError> errors;
  auto fail = [&errors](const char* reason) { errors.push_back({"password", reason}); };
  if (password.size() > kPasswordBytesMax) {
    fail("too_long");
    return Status(ErrorCode::kValidationFailed, "password does not meet the policy",
                  std::move(errors));
  }
  const int64_t characters = CodePoints(password);
  if (characters < 0) {
    fail("encoding");
  } else if (characters < config.password_length_min) {
    fail("too_short");
  }
  bool upper = false, lower = false, digit = false, special = false, control = false;
  for (char ch : password) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 'A' && c <= 'Z') {
      upper = true;
    } else if (c >= 'a' && c <= 'z') {
      lower = true;
    } else if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c < 0x20 || c == 0x7f) {
      control = true;
    } else {
      special = true;  // punctuation, space, or any non-ASCII character
    }
  }
  if (!upper) fail("no_upper");
  if (!lower) fail("no_lower");
  if (!digit) fail("no_digit");
  if (!special) fail("no_special");
  if (control) fail("control_character");
  if (!username.empty() && LowerAscii(password).find(LowerAscii(username)) != std::string::npos) {
    fail("contains_username");
  }
  if (errors.empty()) return Status::Ok();
  // The reasons name rules, never the password.
  return Status(ErrorCode::kValidationFailed, "password does not meet the policy",
                std::move(errors));
}

Result<std::string> HashPassword(Env* env, std::string_view password, const Argon2Params& params) {
  if (password.size() > kPasswordBytesMax) return InvalidArgument("password is too long");
  std::array<uint8_t, kPasswordSaltBytes> salt;
  RETURN_IF_ERROR(env->RandomBytes(salt));
  const size_t encoded_length = argon2_encodedlen(params.iterations, params.memory_kib,
                                                  params.parallelism, kPasswordSaltBytes,
                                                  kPasswordHashBytes, Argon2_id);
  std::string encoded(encoded_length, '\0');
  const int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                       password.data(), password.size(), salt.data(), salt.size(),
                                       kPasswordHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return Internal(std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  }
  encoded.resize(std::char_traits<char>::length(encoded.c_str()));
  return encoded;
}

Result<bool> VerifyPassword(std::string_view encoded_hash, std::string_view password) {
  if (password.size() > kPasswordBytesMax) return false;
  const std::string encoded(encoded_hash);  // argon2 wants a NUL-terminated string
  const int rc = argon2id_verify(encoded.c_str(), password.data(), password.size());
  if (rc == ARGON2_OK) return true;
  if (rc == ARGON2_VERIFY_MISMATCH) return false;
  if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) return Internal("argon2id: out of memory");
  return DataLoss(std::string("stored password hash does not parse: ") + argon2_error_message(rc));
}

bool NeedsRehash(std::string_view encoded_hash, const Argon2Params& params) {
  return encoded_hash.substr(0, ParamsPrefix(params).size()) != ParamsPrefix(params);
}

Result<std::string> GenerateOneTimePassword(Env* env, size_t length) {
  if (length < 16 || length > 128) return InvalidArgument("one-time passwords are 16..128 long");
  // Look-alike characters (0/O, 1/l/I) are left out: these are read off a
  // file or a terminal and typed once.
  static constexpr std::string_view kUpper = "ABCDEFGHJKLMNPQRSTUVWXYZ";
  static constexpr std::string_view kLower = "abcdefghijkmnopqrstuvwxyz";
  static constexpr std::string_view kDigits = "23456789";
  static constexpr std::string_view kSpecial = "!#%+-=?@^_";
  const std::string all = std::string(kUpper) + std::string(kLower) + std::string(kDigits) +
                          std::string(kSpecial);
  // Uniform choice by rejection sampling over random bytes.
  auto pick = [env](std::string_view from, char* out) -> Status {
    const unsigned limit = 256 - (256 % from.size());
    while (true) {
      uint8_t byte = 0;
      RETURN_IF_ERROR(env->RandomBytes({&byte, 1}));
      if (byte < limit) {
        *out = from[byte % from.size()];
        return Status::Ok();
      }
    }
  };
  while (true) {
    std::string password(length, '\0');
    for (char& c : password) RETURN_IF_ERROR(pick(all, &c));
    const bool complete =
        password.find_first_of(kUpper) != std::string::npos &&
        password.find_first_of(kLower) != std::string::npos &&
        password.find_first_of(kDigits) != std::string::npos &&
        password.find_first_of(kSpecial) != std::string::npos;
    if (complete) return password;
    OPENSSL_cleanse(password.data(), password.size());
  }
}

}  // namespace custvault::identity
