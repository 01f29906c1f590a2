// R-CRY-4: every row of tests/data/crypto.tsv (GB/T 32907-2016 SM4,
// GB/T 32905-2016 SM3, RFC 8998 SM4-GCM/SM4-CCM, draft-ribose-cfrg-sm4 A.2
// SM4 modes, GM/T 0042-2015 D.3 HMAC-SM3) gives the published output.
//
// SM4-GCM, SM3 and HMAC-SM3 go through our product code. SM4-ECB/CBC/OFB,
// the million-fold ECB iteration and SM4-CCM are not product features; they
// are checked through OpenSSL's EVP directly, because they validate the SM4
// block cipher our SM4-GCM is built on. OpenSSL 3.0 has no SM4-CCM cipher,
// and CRYPTO_ccm128_init needs a CCM128_CONTEXT whose size modes.h does not
// reveal, so CCM is composed here from EVP SM4-CBC (the CBC-MAC) and EVP
// SM4-CTR (the encryption) following NIST SP 800-38C.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/aead.h"
#include "crypto/hash.h"

namespace custvault::crypto {
namespace {

struct VectorRow {
  std::string name, algorithm, key, iv, aad, input, expected;  // hex
};

// Test names show the vector's name rather than the struct's raw bytes.
void PrintTo(const VectorRow& row, std::ostream* os) { *os << row.name; }

std::string VectorsPath() { return std::string(CUSTVAULT_TEST_DATA_DIR) + "/crypto.tsv"; }

std::vector<VectorRow> LoadRows() {
  std::vector<VectorRow> rows;
  std::ifstream file(VectorsPath());
  std::string line;
  bool header = true;
  while (std::getline(file, line)) {
    if (header) {
      header = false;
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> columns;
    std::stringstream stream(line);
    for (std::string column; std::getline(stream, column, '\t');) columns.push_back(column);
    while (columns.size() < 7) columns.emplace_back();  // trailing empty columns
    rows.push_back(
        {columns[0], columns[1], columns[2], columns[3], columns[4], columns[5], columns[6]});
  }
  return rows;
}

std::string Unhex(const std::string& hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << "bad hex in the vector file";
  return bytes.ok() ? *bytes : std::string();
}

const unsigned char* U(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// One-shot EVP encryption without padding; empty on failure.
std::string EvpEncrypt(const char* cipher_name, const std::string& key, const std::string& iv,
                       const std::string& input, int iterations = 1) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, cipher_name, nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  std::string data = input;
  bool ok = cipher != nullptr && ctx != nullptr &&
            EVP_EncryptInit_ex(ctx, cipher, nullptr, U(key), iv.empty() ? nullptr : U(iv)) == 1 &&
            EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
  auto* bytes = reinterpret_cast<unsigned char*>(data.data());
  for (int i = 0; ok && i < iterations; ++i) {
    int written = 0;
    ok = EVP_EncryptUpdate(ctx, bytes, &written, bytes, static_cast<int>(data.size())) == 1 &&
         static_cast<size_t>(written) == data.size();
  }
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
  return ok ? data : std::string();
}

// SM4-CCM (NIST SP 800-38C, RFC 8998 section 3.2) with a 12-byte nonce
// (q = 3 length bytes) and a 16-byte tag; returns ciphertext || tag.
std::string Sm4CcmSeal(const std::string& key, const std::string& nonce, const std::string& aad,
                       const std::string& plaintext) {
  constexpr size_t kTagBytes = 16, kLengthBytes = 15 - 12;
  EXPECT_EQ(nonce.size(), 12u);
  EXPECT_LT(aad.size(), 0xff00u);  // the 2-byte AAD length form
  // B0: flags = Adata(0x40) | ((t-2)/2) << 3 | (q-1); then nonce; then Q.
  std::string formatted(16, '\0');
  formatted[0] = static_cast<char>((aad.empty() ? 0 : 0x40) | (((kTagBytes - 2) / 2) << 3) |
                                   (kLengthBytes - 1));
  formatted.replace(1, 12, nonce);
  for (size_t i = 0; i < kLengthBytes; ++i) {
    formatted[15 - i] = static_cast<char>((plaintext.size() >> (8 * i)) & 0xff);
  }
  if (!aad.empty()) {
    std::string encoded_aad;
    encoded_aad.push_back(static_cast<char>(aad.size() >> 8));
    encoded_aad.push_back(static_cast<char>(aad.size() & 0xff));
    encoded_aad += aad;
    encoded_aad.resize((encoded_aad.size() + 15) / 16 * 16, '\0');
    formatted += encoded_aad;
  }
  std::string padded_text = plaintext;
  padded_text.resize((padded_text.size() + 15) / 16 * 16, '\0');
  formatted += padded_text;
  // CBC-MAC: the last block of CBC encryption with a zero IV.
  const std::string cbc = EvpEncrypt("SM4-CBC", key, std::string(16, '\0'), formatted);
  if (cbc.size() != formatted.size()) return "";
  const std::string mac = cbc.substr(cbc.size() - 16);
  // Counter blocks: flags = q-1, nonce, counter i (q bytes).
  std::string counter0(16, '\0');
  counter0[0] = static_cast<char>(kLengthBytes - 1);
  counter0.replace(1, 12, nonce);
  std::string counter1 = counter0;
  counter1[15] = 1;
  const std::string ciphertext = EvpEncrypt("SM4-CTR", key, counter1, plaintext);
  const std::string s0 = EvpEncrypt("SM4-ECB", key, "", counter0);
  if (ciphertext.size() != plaintext.size() || s0.size() != 16) return "";
  std::string tag(kTagBytes, '\0');
  for (size_t i = 0; i < kTagBytes; ++i) tag[i] = static_cast<char>(mac[i] ^ s0[i]);
  return ciphertext + tag;
}

class StandardVectorTest : public ::testing::TestWithParam<VectorRow> {};

TEST_P(StandardVectorTest, GivesThePublishedOutput) {
  const VectorRow& row = GetParam();
  const std::string key = Unhex(row.key), iv = Unhex(row.iv), aad = Unhex(row.aad),
                    input = Unhex(row.input), expected = Unhex(row.expected);
  ASSERT_FALSE(expected.empty());
  if (row.algorithm == "sm4-ecb") {
    EXPECT_EQ(HexEncode(EvpEncrypt("SM4-ECB", key, "", input)), row.expected);
  } else if (row.algorithm == "sm4-ecb-iterate-1000000") {
    // GB/T 32907 A.2: encrypt the block with the same key 1,000,000 times.
    EXPECT_EQ(HexEncode(EvpEncrypt("SM4-ECB", key, "", input, 1'000'000)), row.expected);
  } else if (row.algorithm == "sm4-cbc") {
    EXPECT_EQ(HexEncode(EvpEncrypt("SM4-CBC", key, iv, input)), row.expected);
  } else if (row.algorithm == "sm4-ofb") {
    EXPECT_EQ(HexEncode(EvpEncrypt("SM4-OFB", key, iv, input)), row.expected);
  } else if (row.algorithm == "sm4-ccm") {
    EXPECT_EQ(HexEncode(Sm4CcmSeal(key, iv, aad, input)), row.expected);
  } else if (row.algorithm == "sm4-gcm") {
    // Product code: our SM4-GCM, sealing with the vector's nonce.
    AeadContext& aead = ThreadLocalAead(AeadAlgorithm::kSm4Gcm);
    std::string sealed;
    ASSERT_TRUE(aead.Seal(key, iv, aad, input, &sealed).ok());
    EXPECT_EQ(HexEncode(sealed), row.expected);
    auto opened = aead.Open(key, iv, aad, expected);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(HexEncode(opened->view()), row.input);
  } else if (row.algorithm == "sm3") {
    EXPECT_EQ(HexEncode(DigestView(Sm3(input))), row.expected);
  } else if (row.algorithm == "hmac-sm3") {
    EXPECT_EQ(HexEncode(DigestView(HmacSm3(key, input))), row.expected);
  } else {
    FAIL() << "no check for algorithm '" << row.algorithm << "' of vector " << row.name;
  }
}

INSTANTIATE_TEST_SUITE_P(CryptoTsv, StandardVectorTest, ::testing::ValuesIn(LoadRows()),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(StandardVectorFileTest, IsPresentAndComplete) {
  // Guards against a silently empty or truncated file (which would
  // instantiate no vector tests at all).
  const auto rows = LoadRows();
  EXPECT_GE(rows.size(), 11u) << VectorsPath();
  for (const char* algorithm : {"sm4-ecb", "sm4-ecb-iterate-1000000", "sm4-cbc", "sm4-ofb",
                                "sm4-ccm", "sm4-gcm", "sm3", "hmac-sm3"}) {
    EXPECT_TRUE(std::any_of(rows.begin(), rows.end(), [&](const VectorRow& row) {
      return row.algorithm == algorithm;
    })) << algorithm;
  }
}

}  // namespace
}  // namespace custvault::crypto
