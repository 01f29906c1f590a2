// Writing and reading one piece file of a backup (archive.h): the piece's
// bytes cut into chunks of chunk_bytes, each compressed (zstd), encrypted
// (AES-256-GCM or SM4-GCM under the archive key, nonce = piece index ||
// chunk index, associated data = ChunkAad) and recorded with its SM3.
//
// Chunks are compressed, encrypted and hashed on up to `threads` threads
// at once while the caller goes on producing or consuming bytes; the file
// keeps them in order. Memory stays bounded: at most 2 x threads chunks in
// flight.
//
// File layout: StreamHeader (12 bytes), then per chunk a 4-byte big-endian
// length and the chunk body (ciphertext || 16-byte tag).
//
// Thread safety: one writer or reader per thread. Errors: kDataLoss from
// the reader names the backup, piece and chunk ("backup B: piece P chunk
// 3: ...") for a wrong SM3, a failed tag, a short or long file, a chunk
// that decompresses to another size; kInternal for I/O.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "backup/archive.h"
#include "common/status.h"

namespace custvault::backup {

// Called as bytes are written or read (raw bytes, cumulative for the piece).
using BytesProgress = std::function<void(int64_t raw_bytes_done)>;

struct PieceOptions {
  size_t chunk_bytes = size_t{4} << 20;
  int zstd_level = 3;
  int threads = 2;  // 1..16
};

class PieceWriter {
 public:
  // Creates `path` (0600; must not exist).
  static Result<std::unique_ptr<PieceWriter>> Create(const std::string& path,
                                                     const ArchiveCipher& cipher,
                                                     std::string backup_id, std::string piece,
                                                     uint32_t piece_index,
                                                     const PieceOptions& options,
                                                     BytesProgress progress = {});
  ~PieceWriter();

  Status Append(std::string_view data);
  // Appends the whole file at `source_path` (a snapshot).
  Status AppendFile(const std::string& source_path);
  // Writes the last chunk, fsyncs and closes; the piece as the manifest lists it.
  Result<PieceInfo> Finish();

 private:
  struct Encoded;
  PieceWriter(int fd, const ArchiveCipher& cipher, std::string backup_id, std::string piece,
              uint32_t piece_index, const PieceOptions& options, BytesProgress progress);
  Status Submit(std::string raw, bool last);
  Status WriteOldest();

  int fd_;
  const ArchiveCipher& cipher_;
  std::string backup_id_;
  PieceInfo info_;
  uint32_t piece_index_;
  PieceOptions options_;
  BytesProgress progress_;
  std::string buffer_;
  uint64_t next_index_ = 0;
  std::deque<std::future<Result<Encoded>>> in_flight_;
  bool finished_ = false;
};

class PieceReader {
 public:
  // Opens the piece file at `path` as `piece` (from the manifest) of backup
  // `backup_id`; checks the header and the file size against the manifest.
  static Result<std::unique_ptr<PieceReader>> Open(const std::string& path,
                                                   const ArchiveCipher& cipher,
                                                   std::string backup_id, const PieceInfo& piece,
                                                   uint32_t piece_index, int threads,
                                                   BytesProgress progress = {});
  ~PieceReader();

  // The next chunk's raw bytes, checked (SM3 against the manifest, tag,
  // size); nullopt after the last chunk.
  Result<std::optional<std::string>> Next();
  // Reads every chunk, checking each, and passes the bytes to `sink`.
  Status ReadAll(const std::function<Status(std::string_view)>& sink);

 private:
  PieceReader(int fd, const ArchiveCipher& cipher, std::string backup_id, PieceInfo piece,
              uint32_t piece_index, int threads, BytesProgress progress);
  Status Submit();

  int fd_;
  const ArchiveCipher& cipher_;
  std::string backup_id_;
  PieceInfo piece_;
  uint32_t piece_index_;
  int threads_;
  BytesProgress progress_;
  uint64_t next_submit_ = 0;
  int64_t raw_done_ = 0;
  std::deque<std::future<Result<std::string>>> in_flight_;
};

}  // namespace custvault::backup
