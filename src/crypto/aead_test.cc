// R-CRY-1: the AEAD layer (AES-256-GCM, SM4-GCM) and its nonce source.
// Published vectors are in standard_vectors_test.cc and wycheproof_test.cc.
#include "crypto/aead.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

namespace custvault::crypto {
namespace {

class AeadTest : public ::testing::TestWithParam<AeadAlgorithm> {
 protected:
  std::string Key(char fill) const { return std::string(AeadKeyBytes(GetParam()), fill); }
  static std::string Nonce(char fill) { return std::string(kAeadNonceBytes, fill); }
};

TEST_P(AeadTest, SealThenOpenRoundTrips) {
  AeadContext& aead = ThreadLocalAead(GetParam());
  for (size_t length : {0u, 1u, 15u, 16u, 17u, 32u, 1000u}) {
    const std::string plaintext(length, 'p');
    std::string sealed = "prefix";
    ASSERT_TRUE(aead.Seal(Key('k'), Nonce('n'), "aad", plaintext, &sealed).ok());
    ASSERT_EQ(sealed.size(), 6 + length + kAeadTagBytes);
    EXPECT_EQ(sealed.substr(0, 6), "prefix");  // Seal appends
    auto opened = aead.Open(Key('k'), Nonce('n'), "aad", std::string_view(sealed).substr(6));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->view(), plaintext);
  }
}

TEST_P(AeadTest, ReusedContextSwitchesKeysCorrectly) {
  AeadContext& aead = ThreadLocalAead(GetParam());
  std::string under_a, under_b;
  ASSERT_TRUE(aead.Seal(Key('a'), Nonce('n'), "", "same text", &under_a).ok());
  ASSERT_TRUE(aead.Seal(Key('b'), Nonce('n'), "", "same text", &under_b).ok());
  EXPECT_NE(under_a, under_b);
  // Opening under_a after the context last saw key b must use key a again.
  auto opened = aead.Open(Key('a'), Nonce('n'), "", under_a);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->view(), "same text");
  EXPECT_EQ(aead.Open(Key('b'), Nonce('n'), "", under_a).status().code(), ErrorCode::kDataLoss);
}

// The same-key fast path (a context keeps the keys of its last two calls
// set up and only sets the nonce when a key comes again) must give exactly
// what a fresh context gives, whatever the order of keys, of seal and open,
// and of failures. A fresh context per operation is the reference.
TEST_P(AeadTest, KeyReuseAcrossAlternatingKeysMatchesAFreshContext) {
  AeadContext& aead = ThreadLocalAead(GetParam());
  const std::string keys[] = {Key('a'), Key('b'), Key('c')};  // three keys > two slots
  // Key sequences: repeats, alternation, a cycle through all three.
  const int sequence[] = {0, 0, 1, 1, 0, 1, 0, 2, 1, 0, 2, 2, 1, 0, 0, 2, 1, 2, 0, 1};
  int step = 0;
  for (int k : sequence) {
    const std::string nonce = Nonce(static_cast<char>('A' + step));
    const std::string plaintext = "field value " + std::to_string(step);
    const std::string aad = "aad " + std::to_string(step);
    ++step;
    auto fresh = AeadContext::Create(GetParam());
    ASSERT_TRUE(fresh.ok());
    std::string expected;
    ASSERT_TRUE((*fresh)->Seal(keys[k], nonce, aad, plaintext, &expected).ok());
    std::string sealed;
    ASSERT_TRUE(aead.Seal(keys[k], nonce, aad, plaintext, &sealed).ok());
    EXPECT_EQ(sealed, expected) << "step " << step;
    // Open under the right key, then a wrong one (which must fail and must
    // not disturb the next call), then the right one again.
    auto opened = aead.Open(keys[k], nonce, aad, sealed);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->view(), plaintext);
    EXPECT_EQ(aead.Open(keys[(k + 1) % 3], nonce, aad, sealed).status().code(),
              ErrorCode::kDataLoss);
    std::string tampered = sealed;
    tampered.back() ^= 0x01;
    EXPECT_EQ(aead.Open(keys[k], nonce, aad, tampered).status().code(), ErrorCode::kDataLoss);
    auto again = aead.Open(keys[k], nonce, aad, sealed);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->view(), plaintext);
  }
}

TEST_P(AeadTest, SameKeyBytesAtAnotherAddressAndChangedBytesAtTheSameAddress) {
  AeadContext& aead = ThreadLocalAead(GetParam());
  std::string key = Key('k');
  std::string first;
  ASSERT_TRUE(aead.Seal(key, Nonce('n'), "", "text", &first).ok());
  // The key is recognised by its bytes, not by where it lives.
  const std::string copy = key;
  std::string second;
  ASSERT_TRUE(aead.Seal(copy, Nonce('n'), "", "text", &second).ok());
  EXPECT_EQ(first, second);
  // The caller's buffer changed in place: a new key, whatever its address.
  key.back() ^= 0x01;
  std::string third;
  ASSERT_TRUE(aead.Seal(key, Nonce('n'), "", "text", &third).ok());
  EXPECT_NE(third, first);
  EXPECT_EQ(aead.Open(copy, Nonce('n'), "", third).status().code(), ErrorCode::kDataLoss);
  ASSERT_TRUE(aead.Open(key, Nonce('n'), "", third).ok());
}

TEST_P(AeadTest, AnyChangedByteFailsAuthentication) {
  AeadContext& aead = ThreadLocalAead(GetParam());
  std::string sealed;
  ASSERT_TRUE(
      aead.Seal(Key('k'), Nonce('n'), "aad", "thirty-two bytes of plaintext!!!", &sealed).ok());
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string changed = sealed;
    changed[i] ^= 0x01;
    EXPECT_EQ(aead.Open(Key('k'), Nonce('n'), "aad", changed).status().code(), ErrorCode::kDataLoss)
        << "byte " << i;
  }
  EXPECT_EQ(aead.Open(Key('k'), Nonce('n'), "aaD", sealed).status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(aead.Open(Key('k'), Nonce('m'), "aad", sealed).status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(aead.Open(Key('K'), Nonce('n'), "aad", sealed).status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(
      aead.Open(Key('k'), Nonce('n'), "aad", sealed.substr(0, sealed.size() - 1)).status().code(),
      ErrorCode::kDataLoss);
}

TEST_P(AeadTest, TooShortForATagIsDataLoss) {
  AeadContext& aead = ThreadLocalAead(GetParam());
  EXPECT_EQ(aead.Open(Key('k'), Nonce('n'), "", std::string(15, 'x')).status().code(),
            ErrorCode::kDataLoss);
  EXPECT_EQ(aead.Open(Key('k'), Nonce('n'), "", "").status().code(), ErrorCode::kDataLoss);
}

TEST_P(AeadTest, RefusesWrongKeyOrNonceSizeUpFront) {
  AeadContext& aead = ThreadLocalAead(GetParam());
  const std::string key = Key('k');
  for (size_t nonce_bytes : {0u, 8u, 11u, 13u, 16u}) {
    std::string out = "unchanged";
    Status status = aead.Seal(key, std::string(nonce_bytes, 'n'), "", "text", &out);
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument) << nonce_bytes;
    EXPECT_EQ(out, "unchanged");
    EXPECT_EQ(
        aead.Open(key, std::string(nonce_bytes, 'n'), "", std::string(32, 'c')).status().code(),
        ErrorCode::kInvalidArgument);
  }
  for (size_t key_bytes : {0u, 15u, 16u, 24u, 31u, 32u, 33u}) {
    if (key_bytes == AeadKeyBytes(GetParam())) continue;
    std::string out;
    EXPECT_EQ(aead.Seal(std::string(key_bytes, 'k'), Nonce('n'), "", "text", &out).code(),
              ErrorCode::kInvalidArgument)
        << key_bytes;
    EXPECT_EQ(aead.Open(std::string(key_bytes, 'k'), Nonce('n'), "", std::string(32, 'c'))
                  .status()
                  .code(),
              ErrorCode::kInvalidArgument);
  }
}

TEST_P(AeadTest, ContextsAreDistinctPerThreadAndStablePerThread) {
  AeadContext* here = &ThreadLocalAead(GetParam());
  EXPECT_EQ(here, &ThreadLocalAead(GetParam()));
  EXPECT_EQ(here->algorithm(), GetParam());
  AeadContext* there = nullptr;
  std::thread([&] { there = &ThreadLocalAead(GetParam()); }).join();
  EXPECT_NE(here, there);
}

TEST_P(AeadTest, ConcurrentThreadsAgree) {
  std::string expected;
  ASSERT_TRUE(ThreadLocalAead(GetParam()).Seal(Key('k'), Nonce('n'), "a", "value", &expected).ok());
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        std::string sealed;
        if (!ThreadLocalAead(GetParam()).Seal(Key('k'), Nonce('n'), "a", "value", &sealed).ok() ||
            sealed != expected) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AeadTest,
                         ::testing::Values(AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kSm4Gcm),
                         [](const auto& info) {
                           return info.param == AeadAlgorithm::kAes256Gcm ? "Aes256Gcm" : "Sm4Gcm";
                         });

TEST(AeadAlgorithmTest, NamesAndSizes) {
  EXPECT_EQ(AeadAlgorithmName(AeadAlgorithm::kAes256Gcm), "aes-256-gcm");
  EXPECT_EQ(AeadAlgorithmName(AeadAlgorithm::kSm4Gcm), "sm4-gcm");
  EXPECT_EQ(AeadKeyBytes(AeadAlgorithm::kAes256Gcm), 32u);
  EXPECT_EQ(AeadKeyBytes(AeadAlgorithm::kSm4Gcm), 16u);
}

std::string NonceString() {
  uint8_t nonce[kAeadNonceBytes];
  EXPECT_TRUE(NextNonce(nonce).ok());
  return std::string(reinterpret_cast<const char*>(nonce), kAeadNonceBytes);
}

TEST(NextNonceTest, NoRepeatsAcrossManyBufferRefills) {
  std::set<std::string> seen;
  const int count = 5000;  // about 15 refills of the 4 KiB buffer
  for (int i = 0; i < count; ++i) seen.insert(NonceString());
  EXPECT_EQ(seen.size(), static_cast<size_t>(count));
}

TEST(NextNonceTest, ThreadsGetDifferentNonces) {
  std::string main_thread = NonceString();
  std::string other_thread;
  std::thread([&] { other_thread = NonceString(); }).join();
  EXPECT_NE(main_thread, other_thread);
}

TEST(NextNonceTest, ForkedChildDoesNotReuseParentBuffer) {
  NonceString();  // fill this thread's buffer before forking
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string nonce = NonceString();
    const ssize_t written = write(pipe_fds[1], nonce.data(), nonce.size());
    _exit(written == static_cast<ssize_t>(nonce.size()) ? 0 : 1);
  }
  close(pipe_fds[1]);
  const std::string parent_next = NonceString();
  std::string child_nonce(kAeadNonceBytes, '\0');
  ASSERT_EQ(read(pipe_fds[0], child_nonce.data(), child_nonce.size()),
            static_cast<ssize_t>(kAeadNonceBytes));
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(child_nonce, parent_next);
}

}  // namespace
}  // namespace custvault::crypto
