// crypto_check_tool: our primitives behind a line protocol, for the
// differential test against an independent implementation (sm-crypto, see
// tests/differential/sm_crypto_crosscheck.mjs). Test tooling, not shipped.
//
// Each input line is "op arg..." with arguments in hex ("-" for empty);
// each output line is the result in hex, or "error <code>".
//   sm3 MSG                         -> digest
//   hmac-sm3 KEY MSG                -> mac
//   sm4-ecb KEY BLOCK               -> one encrypted 16-byte block
//   sm4-gcm-seal KEY IV AAD MSG     -> ciphertext || tag
//   sm4-gcm-open KEY IV AAD CT_TAG  -> message, or "error data_integrity"
#include <openssl/evp.h>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/aead.h"
#include "crypto/hash.h"

namespace {

using custvault::HexDecode;
using custvault::HexEncode;
namespace crypto = custvault::crypto;

inline constexpr size_t kLineBytesMax = 1 << 20;

std::string Sm4EcbBlock(const std::string& key, const std::string& block) {
  if (key.size() != 16 || block.size() != 16) return "error invalid_argument";
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  unsigned char out[16];
  int written = 0;
  const bool ok =
      ctx != nullptr &&
      EVP_EncryptInit_ex(ctx, EVP_sm4_ecb(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()), nullptr) == 1 &&
      EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
      EVP_EncryptUpdate(ctx, out, &written, reinterpret_cast<const unsigned char*>(block.data()),
                        16) == 1 &&
      written == 16;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return "error internal";
  return HexEncode(std::string_view(reinterpret_cast<const char*>(out), 16));
}

std::string Run(const std::string& line) {
  std::istringstream words(line);
  std::string op;
  words >> op;
  std::vector<std::string> args;
  for (std::string word; words >> word;) {
    if (word == "-") {
      args.emplace_back();
      continue;
    }
    auto bytes = HexDecode(word);
    if (!bytes.ok()) return "error invalid_hex";
    args.push_back(std::move(bytes).value());
  }
  auto want = [&](size_t n) { return args.size() == n; };
  if (op == "sm3" && want(1)) return HexEncode(crypto::DigestView(crypto::Sm3(args[0])));
  if (op == "hmac-sm3" && want(2)) {
    return HexEncode(crypto::DigestView(crypto::HmacSm3(args[0], args[1])));
  }
  if (op == "sm4-ecb" && want(2)) return Sm4EcbBlock(args[0], args[1]);
  auto& aead = crypto::ThreadLocalAead(crypto::AeadAlgorithm::kSm4Gcm);
  if (op == "sm4-gcm-seal" && want(4)) {
    std::string out;
    custvault::Status status = aead.Seal(args[0], args[1], args[2], args[3], &out);
    if (!status.ok()) return "error " + std::string(custvault::ErrorCodeName(status.code()));
    return HexEncode(out);
  }
  if (op == "sm4-gcm-open" && want(4)) {
    auto opened = aead.Open(args[0], args[1], args[2], args[3]);
    if (!opened.ok())
      return "error " + std::string(custvault::ErrorCodeName(opened.status().code()));
    return HexEncode(opened->view());
  }
  return "error unknown_op";
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.size() > kLineBytesMax) {
      std::cout << "error too_large\n";
      continue;
    }
    if (line.empty()) continue;
    std::cout << Run(line) << '\n';
  }
  std::cout.flush();
  return 0;
}
