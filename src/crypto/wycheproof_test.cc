// R-CRY-4: every case of Project Wycheproof's aes_gcm_test.json and
// sm4_gcm_test.json (read in place from CUSTVAULT_WYCHEPROOF_DIR, never
// copied into the repository) gives the listed result through our AEAD, or
// is refused up front where our construction does not accept its
// parameters (AES keys other than 256 bits, IVs other than 96 bits, tags
// other than 128 bits).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/encoding.h"
#include "crypto/aead.h"

namespace custvault::crypto {
namespace {

namespace json = boost::json;

std::string WycheproofDir() {
  // The environment wins, so CI or a developer can point elsewhere.
  if (const char* dir = std::getenv("CUSTVAULT_WYCHEPROOF_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return CUSTVAULT_WYCHEPROOF_DIR;
}

std::string Unhex(const json::value& value) {
  auto bytes = HexDecode(value.as_string());
  EXPECT_TRUE(bytes.ok()) << "bad hex in the Wycheproof file";
  return bytes.ok() ? *bytes : std::string();
}

struct Counts {
  int valid_checked = 0;       // decrypts to msg and encrypts to ct || tag
  int invalid_refused = 0;     // Open says kDataLoss
  int refused_up_front = 0;    // parameters we do not accept: kInvalidArgument
  int acceptable_checked = 0;  // "acceptable": either behaviour, but consistent
  int Total() const {
    return valid_checked + invalid_refused + refused_up_front + acceptable_checked;
  }
};

void RunFile(const std::string& file_name, AeadAlgorithm algorithm, Counts* counts,
             int* number_of_tests) {
  const std::string path = WycheproofDir() + "/" + file_name;
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << "Wycheproof vectors not found at " << path
                 << " (set CUSTVAULT_WYCHEPROOF_DIR); these cases were not run";
  }
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  boost::system::error_code error;
  json::value root = json::parse(text.str(), error);
  ASSERT_FALSE(error) << path << ": " << error.message();
  *number_of_tests = static_cast<int>(root.at("numberOfTests").as_int64());

  AeadContext& aead = ThreadLocalAead(algorithm);
  for (const json::value& group : root.at("testGroups").as_array()) {
    const int64_t iv_bits = group.at("ivSize").as_int64();
    const int64_t key_bits = group.at("keySize").as_int64();
    const int64_t tag_bits = group.at("tagSize").as_int64();
    const bool accepted = key_bits == static_cast<int64_t>(AeadKeyBytes(algorithm) * 8) &&
                          iv_bits == static_cast<int64_t>(kAeadNonceBytes * 8) &&
                          tag_bits == static_cast<int64_t>(kAeadTagBytes * 8);
    for (const json::value& test : group.at("tests").as_array()) {
      const int64_t id = test.at("tcId").as_int64();
      SCOPED_TRACE(file_name + " tcId " + std::to_string(id));
      const std::string key = Unhex(test.at("key")), iv = Unhex(test.at("iv")),
                        aad = Unhex(test.at("aad")), msg = Unhex(test.at("msg")),
                        ct = Unhex(test.at("ct")), tag = Unhex(test.at("tag"));
      const std::string result(test.at("result").as_string());
      const std::string ct_and_tag = ct + tag;

      if (!accepted) {
        if (key.size() != AeadKeyBytes(algorithm) || iv.size() != kAeadNonceBytes) {
          std::string out;
          EXPECT_EQ(aead.Seal(key, iv, aad, msg, &out).code(), ErrorCode::kInvalidArgument);
          EXPECT_TRUE(out.empty());
          EXPECT_EQ(aead.Open(key, iv, aad, ct_and_tag).status().code(),
                    ErrorCode::kInvalidArgument);
        } else {
          // Only the tag size differs; we always read a 128-bit tag, so a
          // shorter one cannot authenticate.
          EXPECT_FALSE(aead.Open(key, iv, aad, ct_and_tag).ok());
        }
        ++counts->refused_up_front;
        continue;
      }
      if (result == "valid") {
        auto opened = aead.Open(key, iv, aad, ct_and_tag);
        ASSERT_TRUE(opened.ok()) << opened.status().ToString();
        EXPECT_EQ(HexEncode(opened->view()), HexEncode(msg));
        std::string sealed;
        ASSERT_TRUE(aead.Seal(key, iv, aad, msg, &sealed).ok());
        EXPECT_EQ(HexEncode(sealed), HexEncode(ct_and_tag));
        ++counts->valid_checked;
      } else if (result == "invalid") {
        EXPECT_EQ(aead.Open(key, iv, aad, ct_and_tag).status().code(), ErrorCode::kDataLoss);
        ++counts->invalid_refused;
      } else if (result == "acceptable") {
        auto opened = aead.Open(key, iv, aad, ct_and_tag);
        if (opened.ok()) {
          EXPECT_EQ(HexEncode(opened->view()), HexEncode(msg));
        } else {
          EXPECT_EQ(opened.status().code(), ErrorCode::kDataLoss);
        }
        ++counts->acceptable_checked;
      } else {
        ADD_FAILURE() << "unknown result '" << result << "'";
      }
    }
  }
}

void Report(const char* name, const Counts& counts, int number_of_tests) {
  std::printf(
      "%s: %d valid checked, %d invalid refused, %d refused up front, %d acceptable; "
      "%d of %d cases\n",
      name, counts.valid_checked, counts.invalid_refused, counts.refused_up_front,
      counts.acceptable_checked, counts.Total(), number_of_tests);
  ::testing::Test::RecordProperty("valid_checked", counts.valid_checked);
  ::testing::Test::RecordProperty("invalid_refused", counts.invalid_refused);
  ::testing::Test::RecordProperty("refused_up_front", counts.refused_up_front);
}

TEST(WycheproofTest, AesGcmEveryCase) {
  Counts counts;
  int number_of_tests = -1;
  RunFile("aes_gcm_test.json", AeadAlgorithm::kAes256Gcm, &counts, &number_of_tests);
  if (IsSkipped() || HasFatalFailure()) return;
  Report("aes_gcm_test.json", counts, number_of_tests);
  EXPECT_EQ(counts.Total(), number_of_tests);
  // Every accepted category must actually have been exercised.
  EXPECT_GT(counts.valid_checked, 0);
  EXPECT_GT(counts.invalid_refused, 0);
}

TEST(WycheproofTest, Sm4GcmEveryCase) {
  Counts counts;
  int number_of_tests = -1;
  RunFile("sm4_gcm_test.json", AeadAlgorithm::kSm4Gcm, &counts, &number_of_tests);
  if (IsSkipped() || HasFatalFailure()) return;
  Report("sm4_gcm_test.json", counts, number_of_tests);
  EXPECT_EQ(counts.Total(), number_of_tests);
  EXPECT_GT(counts.valid_checked, 0);
  EXPECT_GT(counts.invalid_refused, 0);
}

}  // namespace
}  // namespace custvault::crypto
