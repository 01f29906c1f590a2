// Tests of piece files (R-BAK-3): what is written reads back; any change to
// the bytes, their order, their piece or their backup is refused, naming
// the backup, piece and chunk.
#include "backup/piece_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "crypto/hash.h"

namespace custvault::backup {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunk = 64 << 10;
constexpr char kId[] = "20261129T030000Z-full-0a1b2c3d";

class PieceIoTest : public ::testing::TestWithParam<crypto::AeadAlgorithm> {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_piece_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    crypto::SecretBytes key(kArchiveKeyBytes);
    for (size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<uint8_t>(i * 7 + 1);
    cipher_ = std::make_unique<ArchiveCipher>(GetParam(), std::move(key));
    std::mt19937 random(42);
    // Half random (incompressible, like ciphertext), half repetitive.
    for (size_t i = 0; i < 3 * kChunk + 1234; ++i) {
      data_.push_back(i % 2 ? static_cast<char>(random()) : 'x');
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  PieceInfo Write(const std::string& name, uint32_t index, const std::string& data,
                  const std::string& id = kId) {
    Result<std::unique_ptr<PieceWriter>> writer =
        PieceWriter::Create(dir_ + "/" + name + ".cvb", *cipher_, id, name, index,
                            {.chunk_bytes = kChunk, .zstd_level = 3, .threads = 2});
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    // Appended in odd-sized pieces, to cross chunk boundaries.
    for (size_t at = 0; at < data.size(); at += 10007) {
      EXPECT_TRUE((*writer)->Append(std::string_view(data).substr(at, 10007)).ok());
    }
    Result<PieceInfo> info = (*writer)->Finish();
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return *info;
  }

  Result<std::string> Read(const std::string& file, const PieceInfo& piece, uint32_t index,
                           const std::string& id = kId) {
    ASSIGN_OR_RETURN(std::unique_ptr<PieceReader> reader,
                     PieceReader::Open(dir_ + "/" + file, *cipher_, id, piece, index, 2));
    std::string out;
    RETURN_IF_ERROR(reader->ReadAll([&](std::string_view bytes) {
      out.append(bytes);
      return Status::Ok();
    }));
    return out;
  }

  std::string Bytes(const std::string& file) {
    std::ifstream in(dir_ + "/" + file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  void Put(const std::string& file, const std::string& bytes) {
    std::ofstream out(dir_ + "/" + file, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

  std::string dir_;
  std::unique_ptr<ArchiveCipher> cipher_;
  std::string data_;
};

TEST_P(PieceIoTest, RoundTripsAcrossChunksWithSm3PerChunk) {
  const PieceInfo piece = Write("custvault.db", 0, data_);
  ASSERT_EQ(piece.chunks.size(), 4u);
  EXPECT_EQ(piece.raw_bytes, static_cast<int64_t>(data_.size()));
  EXPECT_EQ(piece.stored_bytes, static_cast<int64_t>(fs::file_size(dir_ + "/custvault.db.cvb")));
  Result<std::string> read = Read("custvault.db.cvb", piece, 0);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, data_);
  // The chunk hashes are SM3 of the stored bodies.
  const std::string file = Bytes("custvault.db.cvb");
  const std::string_view first_body =
      std::string_view(file).substr(kStreamHeaderBytes + 4, piece.chunks[0].stored_bytes);
  EXPECT_EQ(crypto::DigestView(crypto::Sm3(first_body)), piece.chunks[0].sm3);
}

TEST_P(PieceIoTest, EmptyPieceIsOneLastChunk) {
  const PieceInfo piece = Write("journal", 0, "");
  ASSERT_EQ(piece.chunks.size(), 1u);
  Result<std::string> read = Read("journal.cvb", piece, 0);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->empty());
}

TEST_P(PieceIoTest, R_BAK_3_AFlippedBitIsRefusedNamingTheChunk) {
  const PieceInfo piece = Write("custvault.db", 0, data_);
  std::string file = Bytes("custvault.db.cvb");
  // A bit in the second chunk's body.
  const size_t second = kStreamHeaderBytes + 4 + piece.chunks[0].stored_bytes + 4 + 100;
  file[second] ^= 0x10;
  Put("custvault.db.cvb", file);
  Result<std::string> read = Read("custvault.db.cvb", piece, 0);
  ASSERT_EQ(read.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(read.status().message().find(std::string("backup ") + kId + ": piece custvault.db chunk 1"),
            std::string::npos)
      << read.status().message();
}

TEST_P(PieceIoTest, R_BAK_3_ATamperedChunkWithAMatchingHashStillFailsItsTag) {
  // Someone who edits a chunk and also recomputes its SM3 in a copy of the
  // manifest (the real manifest is MACed) still meets the AEAD tag.
  PieceInfo piece = Write("custvault.db", 0, data_);
  std::string file = Bytes("custvault.db.cvb");
  const size_t at = kStreamHeaderBytes + 4 + 50;
  file[at] ^= 0x01;
  Put("custvault.db.cvb", file);
  piece.chunks[0].sm3.assign(crypto::DigestView(
      crypto::Sm3(std::string_view(file).substr(kStreamHeaderBytes + 4, piece.chunks[0].stored_bytes))));
  Result<std::string> read = Read("custvault.db.cvb", piece, 0);
  ASSERT_EQ(read.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(read.status().message().find("chunk 0: does not authenticate"), std::string::npos)
      << read.status().message();
}

TEST_P(PieceIoTest, R_BAK_3_ATruncatedFileIsRefused) {
  const PieceInfo piece = Write("custvault.db", 0, data_);
  std::string file = Bytes("custvault.db.cvb");
  file.resize(file.size() - 10);
  Put("custvault.db.cvb", file);
  Result<std::string> read = Read("custvault.db.cvb", piece, 0);
  ASSERT_EQ(read.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(read.status().message().find("truncated"), std::string::npos) << read.status().message();
}

TEST_P(PieceIoTest, R_BAK_3_DroppingTheLastChunkFailsEvenWithAMatchingManifest) {
  // The last chunk is sealed as last: a file cut at a chunk boundary, with
  // a manifest cut to match, is still refused.
  PieceInfo piece = Write("custvault.db", 0, data_);
  std::string file = Bytes("custvault.db.cvb");
  const ChunkInfo dropped = piece.chunks.back();
  piece.chunks.pop_back();
  piece.raw_bytes -= dropped.raw_bytes;
  piece.stored_bytes -= 4 + dropped.stored_bytes;
  file.resize(static_cast<size_t>(piece.stored_bytes));
  Put("custvault.db.cvb", file);
  Result<std::string> read = Read("custvault.db.cvb", piece, 0);
  ASSERT_EQ(read.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(read.status().message().find("chunk 2: does not authenticate"), std::string::npos)
      << read.status().message();
}

TEST_P(PieceIoTest, R_BAK_3_ReorderedChunksAreRefused) {
  // Two chunks of equal size swapped, their hashes swapped in the manifest
  // too: the index in the nonce and associated data catches it.
  // Chunks 0 and 1 hold the same bytes, so they compress to the same size.
  std::string equal(2 * kChunk + 10, 'q');
  for (size_t i = 0; i < equal.size(); ++i) equal[i] = static_cast<char>(i % 256);
  PieceInfo piece = Write("custvault.db", 0, equal);
  ASSERT_EQ(piece.chunks[0].stored_bytes, piece.chunks[1].stored_bytes);
  std::string file = Bytes("custvault.db.cvb");
  const size_t record = 4 + piece.chunks[0].stored_bytes;
  const std::string first = file.substr(kStreamHeaderBytes, record);
  const std::string second = file.substr(kStreamHeaderBytes + record, record);
  file.replace(kStreamHeaderBytes, record, second);
  file.replace(kStreamHeaderBytes + record, record, first);
  Put("custvault.db.cvb", file);
  std::swap(piece.chunks[0], piece.chunks[1]);
  Result<std::string> read = Read("custvault.db.cvb", piece, 0);
  ASSERT_EQ(read.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(read.status().message().find("chunk 0: does not authenticate"), std::string::npos);
}

TEST_P(PieceIoTest, R_BAK_3_APieceReadAsAnotherPieceOrBackupIsRefused) {
  const PieceInfo piece = Write("journal", 0, data_);
  PieceInfo renamed = piece;
  renamed.name = "audit";
  EXPECT_EQ(Read("journal.cvb", renamed, 0).status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(Read("journal.cvb", piece, 1).status().code(), ErrorCode::kDataLoss);  // other index
  EXPECT_EQ(Read("journal.cvb", piece, 0, "20261129T030000Z-incr-0a1b2c3d").status().code(),
            ErrorCode::kDataLoss);
  EXPECT_TRUE(Read("journal.cvb", piece, 0).ok());
}

TEST_P(PieceIoTest, AMissingFileIsNamed) {
  PieceInfo piece;
  piece.name = "audit";
  piece.file = "audit.cvb";
  Result<std::string> read = Read("audit.cvb", piece, 0);
  ASSERT_EQ(read.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(read.status().message().find("piece audit: file audit.cvb is missing"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, PieceIoTest,
                         ::testing::Values(crypto::AeadAlgorithm::kAes256Gcm,
                                           crypto::AeadAlgorithm::kSm4Gcm),
                         [](const auto& info) {
                           return info.param == crypto::AeadAlgorithm::kAes256Gcm ? "Aes" : "Sm4";
                         });

}  // namespace
}  // namespace custvault::backup
