// Robustness of the backup parsers (style.md habit 9; GCC has no libFuzzer,
// so this is a deterministic mutation loop in the spirit of the catalog's
// robustness test): manifests, piece records and journal patchsets, each
// mutated thousands of times (bit flips, byte changes, truncations,
// insertions), must be refused with kDataLoss or parsed, never crash or
// read out of bounds (run under ASan), and an accepted changed manifest
// never passes its MAC.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "backup/archive.h"
#include "backup/records.h"
#include "common/fake_env.h"
#include "store/sqlite/patchset.h"

namespace custvault::backup {
namespace {

namespace fs = std::filesystem;

constexpr int kMutations = 4000;

std::string Mutate(std::string input, std::mt19937& random) {
  if (input.empty()) return input;
  switch (random() % 4) {
    case 0:  // flip a bit
      input[random() % input.size()] ^= static_cast<char>(1 << (random() % 8));
      break;
    case 1:  // set a byte
      input[random() % input.size()] = static_cast<char>(random());
      break;
    case 2:  // truncate
      input.resize(random() % input.size());
      break;
    default:  // insert bytes
      input.insert(random() % input.size(), std::string(1 + random() % 8, static_cast<char>(random())));
  }
  return input;
}

TEST(BackupRobustnessTest, MutatedManifestsAreRefusedOrFailTheirMac) {
  std::string pattern = (fs::temp_directory_path() / "cv_robust_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  FakeEnv env;
  Result<std::unique_ptr<crypto::Keyring>> keyring = crypto::Keyring::Open(
      &env, pattern + "/master.key", crypto::CryptoProfile::kDefault, true);
  ASSERT_TRUE(keyring.ok());
  Result<crypto::WrappedKey> key = (*keyring)->CreateDomainKey(kBackupKeyPurpose, 1);
  ASSERT_TRUE(key.ok());
  Manifest m;
  m.id = "20261129T030000Z-full-0a1b2c3d";
  m.created_at_us = 1'796'000'000'000'000;
  m.schema_version = 6;
  m.backup_key = *key;
  m.archive_key = "sealed";
  m.customers = 10;
  PieceInfo piece;
  piece.name = kPieceCustomerDb;
  piece.file = std::string(kPieceCustomerDb) + kPieceFileSuffix;
  piece.chunks.push_back({std::string(32, 'a'), 10, 20});
  piece.raw_bytes = 20;
  piece.stored_bytes = static_cast<int64_t>(kStreamHeaderBytes) + 14;
  m.pieces.push_back(piece);
  Result<std::string> sealed = SealManifest(m, **keyring);
  ASSERT_TRUE(sealed.ok());
  std::mt19937 random(1);
  int parsed = 0;
  for (int i = 0; i < kMutations; ++i) {
    const std::string mutated = Mutate(*sealed, random);
    Result<Manifest> result = ParseManifest(mutated);
    if (!result.ok()) {
      EXPECT_EQ(result.status().code(), ErrorCode::kDataLoss);
      continue;
    }
    ++parsed;
    if (mutated != *sealed) {
      EXPECT_FALSE(VerifyManifestMac(mutated, **keyring).ok()) << i;
    }
  }
  EXPECT_GT(parsed, 0);  // some mutations (inside strings) still parse, and their MAC fails
  fs::remove_all(pattern);
}

TEST(BackupRobustnessTest, MutatedRecordStreamsNeverCrashTheDecoder) {
  std::string stream;
  AppendJournalRecord(1, 2, "patchset bytes", &stream);
  AppendHeadRecord({3, std::string(32, 'h'), 4, 1, std::string(32, 'm')}, &stream);
  AppendLoginIpRecord({"u", "10.0.0.1"}, &stream);
  std::mt19937 random(2);
  for (int i = 0; i < kMutations; ++i) {
    const std::string mutated = Mutate(stream, random);
    RecordDecoder decoder("robustness");
    Status fed = decoder.Feed(mutated, [](Record&&) { return Status::Ok(); });
    if (fed.ok()) fed = decoder.Finish();
    if (!fed.ok()) {
      EXPECT_EQ(fed.code(), ErrorCode::kDataLoss);
    }
  }
}

TEST(BackupRobustnessTest, MutatedPatchsetsNeverCrashTheReader) {
  // A patchset with an insert (every type), an update and a delete, as
  // SQLite writes them (format in store/sqlite/patchset.h).
  std::string patchset("P\x05\x01\x00\x00\x00\x00t\x00", 9);
  patchset += std::string("\x12\x00", 2);
  patchset += std::string("\x03\x02id", 4);                                  // text "id"
  patchset += std::string("\x01\x00\x00\x00\x00\x00\x00\x00\x07", 9);        // integer 7
  patchset += std::string("\x02\x3f\xf0\x00\x00\x00\x00\x00\x00", 9);        // real 1.0
  patchset += std::string("\x04\x03\x01\x02\x03", 5);                        // blob
  patchset += std::string("\x05", 1);                                        // NULL
  patchset += std::string("\x17\x00\x03\x02id\x00\x01\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00", 18);
  patchset += std::string("\x09\x00\x03\x02id", 6);
  int changes = 0;
  ASSERT_TRUE(store::sqlite::ForEachPatchsetChange(patchset, [&](const auto&) {
                ++changes;
                return Status::Ok();
              }).ok());
  ASSERT_EQ(changes, 3);
  std::mt19937 random(3);
  for (int i = 0; i < kMutations; ++i) {
    const std::string mutated = Mutate(patchset, random);
    const Status status = store::sqlite::ForEachPatchsetChange(
        mutated, [](const store::sqlite::PatchsetChange&) { return Status::Ok(); });
    if (!status.ok()) {
      EXPECT_EQ(status.code(), ErrorCode::kDataLoss);
    }
  }
}

}  // namespace
}  // namespace custvault::backup
