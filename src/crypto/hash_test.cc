// R-CRY-4 (hashes). The SM3 and HMAC-SM3 vectors from GB/T 32905 and
// GM/T 0042 run in standard_vectors_test.cc; these cover the rest.
#include "crypto/hash.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/encoding.h"

namespace custvault::crypto {
namespace {

std::string Hex(const Digest32& d) { return HexEncode(DigestView(d)); }

TEST(HashTest, Sha256MatchesFips180Example) {
  // FIPS 180-2, appendix B.1 ("abc").
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashTest, Sm3OfEmptyInput) {
  // Known value of SM3("") (also produced by `openssl dgst -sm3` on an empty file).
  EXPECT_EQ(Hex(Sm3("")), "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b");
}

TEST(HashTest, HmacSm3KeyDoesNotLeakBetweenCalls) {
  const Digest32 first = HmacSm3("key one", "data");
  const Digest32 other = HmacSm3("key two", "data");
  EXPECT_NE(first, other);
  EXPECT_EQ(HmacSm3("key one", "data"), first);
  // An empty key is a real empty key, not "the previous key".
  const Digest32 empty_key = HmacSm3("", "data");
  EXPECT_NE(empty_key, first);
  HmacSm3("key two", "data");
  EXPECT_EQ(HmacSm3("", "data"), empty_key);
}

TEST(HashTest, HmacSm3LongKeyIsHashedFirst) {
  // RFC 2104: a key longer than the 64-byte block is replaced by its hash.
  const std::string long_key(100, 'k');
  EXPECT_EQ(HmacSm3(long_key, "m"), HmacSm3(DigestView(Sm3(long_key)), "m"));
}

TEST(HashTest, HmacSm3IsThreadSafe) {
  const Digest32 expected = HmacSm3("k", "v");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        HmacSm3(std::string(1, static_cast<char>('a' + t)), "noise");
        if (HmacSm3("k", "v") != expected) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace custvault::crypto
