// R-CRY-4 (hashes). The SM3 and HMAC-SM3 vectors from GB/T 32905 and
// GM/T 0042 run in standard_vectors_test.cc; these cover the rest.
#include "crypto/hash.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <memory>
#include <random>
#include <string>
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

// OpenSSL's own one-shot HMAC (no cached state): the reference the fast
// path must equal.
Digest32 ReferenceHmacSm3(std::string_view key, std::string_view data) {
  Digest32 out{};
  unsigned int written = 0;
  static const unsigned char kEmpty[1] = {0};
  const auto* key_bytes =
      key.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  const unsigned char* result =
      HMAC(EVP_sm3(), key_bytes, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &written);
  EXPECT_NE(result, nullptr);
  EXPECT_EQ(written, out.size());
  return out;
}

std::string RandomBytes(std::mt19937& random, size_t size) {
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random() & 0xff);
  return bytes;
}

// R-CRY-4: the cached-key HMAC-SM3 equals OpenSSL's HMAC for keys of every
// length class (empty, short, exactly one block, longer than a block and
// hashed first), messages across block boundaries, and after keys are
// evicted from the per-thread cache and come back.
TEST(HashTest, HmacSm3FastPathEqualsOpenSslHmacForManyInputs) {
  std::mt19937 random(20261129);
  const size_t key_sizes[] = {0, 1, 16, 31, 32, 33, 63, 64, 65, 100, 128, 200};
  std::vector<std::string> keys;
  for (size_t size : key_sizes) keys.push_back(RandomBytes(random, size));
  int compared = 0;
  for (int round = 0; round < 3; ++round) {
    for (const std::string& key : keys) {  // 12 keys > kHmacKeyCacheEntries: evictions
      for (size_t data_size : {0, 1, 23, 55, 56, 63, 64, 65, 119, 120, 128, 1000}) {
        const std::string data = RandomBytes(random, data_size);
        const Digest32 expected = ReferenceHmacSm3(key, data);
        ASSERT_EQ(HmacSm3(key, data), expected) << "key " << key.size() << " data " << data_size;
        // The same bytes given in parts (split at a random point, with an
        // empty part) give the same MAC.
        const size_t cut = data.empty() ? 0 : random() % (data.size() + 1);
        const std::string_view view(data);
        ASSERT_EQ(HmacSm3(key, {view.substr(0, cut), std::string_view(), view.substr(cut)}),
                  expected);
        HmacSm3Key keyed(key);
        ASSERT_EQ(keyed.Mac(data), expected);
        compared += 3;
      }
    }
  }
  EXPECT_EQ(compared, 3 * 12 * 12 * 3);
}

TEST(HashTest, HmacSm3KeysEqualAfterZeroPaddingShareOneMac) {
  // RFC 2104 pads a short key with zeros, so "k" and "k\0" are the same
  // HMAC key; the cache must agree with OpenSSL on that, not tell them apart.
  const std::string padded("k\0", 2);
  EXPECT_EQ(HmacSm3("k", "m"), ReferenceHmacSm3("k", "m"));
  EXPECT_EQ(HmacSm3(padded, "m"), ReferenceHmacSm3(padded, "m"));
  EXPECT_EQ(HmacSm3(padded, "m"), HmacSm3("k", "m"));
}

TEST(HashTest, HmacSm3KeyIsSharedSafelyAcrossThreads) {
  const std::string key(32, 'b');
  auto keyed = std::make_unique<HmacSm3Key>(key);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string data = "value " + std::to_string(t);
      const Digest32 expected = ReferenceHmacSm3(key, data);
      for (int i = 0; i < 500; ++i) {
        if (keyed->Mac(data) != expected) ++wrong;
        if (HmacSm3(std::string(1, static_cast<char>('a' + t)), data) !=
            ReferenceHmacSm3(std::string(1, static_cast<char>('a' + t)), data)) {
          ++wrong;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
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
