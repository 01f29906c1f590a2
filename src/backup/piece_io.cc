#include "backup/piece_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"
#include "crypto/hash.h"

namespace custvault::backup {
namespace {

Status Io(std::string_view what, const std::string& detail) {
  return Internal(std::string(what) + ": " + detail + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Io("cannot write backup piece", "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Reads exactly n bytes; false at a clean or short end of file.
Result<bool> ReadExactly(int fd, size_t n, std::string* out) {
  out->resize(n);
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::read(fd, out->data() + done, n - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Io("cannot read backup piece", "read");
    }
    if (got == 0) {
      out->resize(done);
      return false;
    }
    done += static_cast<size_t>(got);
  }
  return true;
}

ZSTD_CCtx* ThreadCompressor() {
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> context(ZSTD_createCCtx(),
                                                                          ZSTD_freeCCtx);
  return context.get();
}

ZSTD_DCtx* ThreadDecompressor() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> context(ZSTD_createDCtx(),
                                                                          ZSTD_freeDCtx);
  return context.get();
}

std::string BigEndian32(uint32_t value) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (24 - 8 * i)) & 0xff);
  return out;
}

uint32_t ReadBigEndian32(std::string_view bytes) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

std::string ChunkName(const std::string& backup_id, const std::string& piece, uint64_t index) {
  return "backup " + backup_id + ": piece " + piece + " chunk " + std::to_string(index);
}

}  // namespace

struct PieceWriter::Encoded {
  std::string body;  // ciphertext || tag
  std::string sm3;
  int64_t raw_bytes = 0;
};

Result<std::unique_ptr<PieceWriter>> PieceWriter::Create(const std::string& path,
                                                         const ArchiveCipher& cipher,
                                                         std::string backup_id, std::string piece,
                                                         uint32_t piece_index,
                                                         const PieceOptions& options,
                                                         BytesProgress progress) {
  if (options.chunk_bytes < kChunkBytesMin || options.chunk_bytes > kChunkRawBytesMax)
    return InvalidArgument("backup chunk_bytes must be 4 KiB .. 64 MiB");
  if (options.threads < 1 || options.threads > 16) return InvalidArgument("threads must be 1..16");
  if (options.zstd_level < 1 || options.zstd_level > ZSTD_maxCLevel())
    return InvalidArgument("zstd_level out of range");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Io("cannot create backup piece", path);
  auto writer = std::unique_ptr<PieceWriter>(new PieceWriter(
      fd, cipher, std::move(backup_id), std::move(piece), piece_index, options, std::move(progress)));
  RETURN_IF_ERROR(WriteAll(fd, StreamHeader(cipher.algorithm())));
  writer->info_.stored_bytes = static_cast<int64_t>(kStreamHeaderBytes);
  return writer;
}

PieceWriter::PieceWriter(int fd, const ArchiveCipher& cipher, std::string backup_id,
                         std::string piece, uint32_t piece_index, const PieceOptions& options,
                         BytesProgress progress)
    : fd_(fd),
      cipher_(cipher),
      backup_id_(std::move(backup_id)),
      piece_index_(piece_index),
      options_(options),
      progress_(std::move(progress)) {
  info_.name = std::move(piece);
  info_.file = info_.name + kPieceFileSuffix;
}

PieceWriter::~PieceWriter() {
  for (auto& pending : in_flight_) pending.wait();
  if (fd_ >= 0) ::close(fd_);
}

Status PieceWriter::Submit(std::string raw, bool last) {
  const uint64_t index = next_index_++;
  if (index >= kChunksPerPieceMax) return TooLarge("backup piece over 1,000,000 chunks");
  in_flight_.push_back(std::async(
      std::launch::async,
      [this, index, last, raw = std::move(raw)]() -> Result<Encoded> {
        Encoded encoded;
        encoded.raw_bytes = static_cast<int64_t>(raw.size());
        std::string compressed(ZSTD_compressBound(raw.size()), '\0');
        const size_t size = ZSTD_compressCCtx(ThreadCompressor(), compressed.data(),
                                              compressed.size(), raw.data(), raw.size(),
                                              options_.zstd_level);
        if (ZSTD_isError(size)) return Internal(std::string("zstd: ") + ZSTD_getErrorName(size));
        compressed.resize(size);
        const auto nonce = ChunkNonce(piece_index_, index);
        RETURN_IF_ERROR(crypto::ThreadLocalAead(cipher_.algorithm())
                            .Seal(cipher_.key(),
                                  std::string_view(reinterpret_cast<const char*>(nonce.data()),
                                                   nonce.size()),
                                  ChunkAad(backup_id_, info_.name, index, last), compressed,
                                  &encoded.body));
        encoded.sm3.assign(crypto::DigestView(crypto::Sm3(encoded.body)));
        return encoded;
      }));
  while (in_flight_.size() >= static_cast<size_t>(2 * options_.threads)) {
    RETURN_IF_ERROR(WriteOldest());
  }
  return Status::Ok();
}

Status PieceWriter::WriteOldest() {
  Result<Encoded> encoded = in_flight_.front().get();
  in_flight_.pop_front();
  if (!encoded.ok()) return encoded.status();
  RETURN_IF_ERROR(WriteAll(fd_, BigEndian32(static_cast<uint32_t>(encoded->body.size()))));
  RETURN_IF_ERROR(WriteAll(fd_, encoded->body));
  info_.chunks.push_back({encoded->sm3, static_cast<int64_t>(encoded->body.size()),
                          encoded->raw_bytes});
  info_.raw_bytes += encoded->raw_bytes;
  info_.stored_bytes += 4 + static_cast<int64_t>(encoded->body.size());
  if (progress_) progress_(info_.raw_bytes);
  return Status::Ok();
}

Status PieceWriter::Append(std::string_view data) {
  if (finished_) return Internal("backup piece appended to after Finish");
  buffer_.append(data);
  // A full chunk goes only once more bytes follow it: the last chunk must
  // be marked last, and which one that is is known only at Finish.
  while (buffer_.size() > options_.chunk_bytes) {
    std::string chunk = buffer_.substr(0, options_.chunk_bytes);
    buffer_.erase(0, options_.chunk_bytes);
    RETURN_IF_ERROR(Submit(std::move(chunk), /*last=*/false));
  }
  return Status::Ok();
}

Status PieceWriter::AppendFile(const std::string& source_path) {
  const UniqueFd owned(::open(source_path.c_str(), O_RDONLY | O_CLOEXEC));
  const int fd = owned.get();
  if (fd < 0) return Io("cannot open snapshot", source_path);
  std::string block;
  while (true) {
    ASSIGN_OR_RETURN(const bool full, ReadExactly(fd, options_.chunk_bytes, &block));
    RETURN_IF_ERROR(Append(block));
    if (!full) break;
  }
  return Status::Ok();
}

Result<PieceInfo> PieceWriter::Finish() {
  if (finished_) return Internal("backup piece finished twice");
  finished_ = true;
  RETURN_IF_ERROR(Submit(std::move(buffer_), /*last=*/true));
  while (!in_flight_.empty()) RETURN_IF_ERROR(WriteOldest());
  if (::fsync(fd_) != 0) return Io("cannot fsync backup piece", info_.file);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return Io("cannot close backup piece", info_.file);
  }
  fd_ = -1;
  return info_;
}

// ---- reader ----

Result<std::unique_ptr<PieceReader>> PieceReader::Open(const std::string& path,
                                                       const ArchiveCipher& cipher,
                                                       std::string backup_id,
                                                       const PieceInfo& piece,
                                                       uint32_t piece_index, int threads,
                                                       BytesProgress progress) {
  const std::string where = "backup " + backup_id + ": piece " + piece.name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return DataLoss(where + ": file " + piece.file + " is missing");
    return Io("cannot open backup piece", path);
  }
  auto reader = std::unique_ptr<PieceReader>(new PieceReader(
      fd, cipher, std::move(backup_id), piece, piece_index, std::max(1, std::min(threads, 16)),
      std::move(progress)));
  struct stat info {};
  if (::fstat(fd, &info) != 0) return Io("cannot stat backup piece", path);
  if (info.st_size != piece.stored_bytes) {
    return DataLoss(where + ": file is " + std::to_string(info.st_size) + " bytes, the manifest says " +
                    std::to_string(piece.stored_bytes) +
                    (info.st_size < piece.stored_bytes ? " (truncated)" : ""));
  }
  std::string header;
  ASSIGN_OR_RETURN(const bool complete, ReadExactly(fd, kStreamHeaderBytes, &header));
  if (!complete || header != StreamHeader(cipher.algorithm())) {
    return DataLoss(where + ": not a custvault backup piece of this format and algorithm");
  }
  return reader;
}

PieceReader::PieceReader(int fd, const ArchiveCipher& cipher, std::string backup_id,
                         PieceInfo piece, uint32_t piece_index, int threads,
                         BytesProgress progress)
    : fd_(fd),
      cipher_(cipher),
      backup_id_(std::move(backup_id)),
      piece_(std::move(piece)),
      piece_index_(piece_index),
      threads_(threads),
      progress_(std::move(progress)) {}

PieceReader::~PieceReader() {
  for (auto& pending : in_flight_) pending.wait();
  ::close(fd_);
}

Status PieceReader::Submit() {
  const uint64_t index = next_submit_++;
  const ChunkInfo& expected = piece_.chunks[index];
  const std::string where = ChunkName(backup_id_, piece_.name, index);
  std::string length;
  ASSIGN_OR_RETURN(bool complete, ReadExactly(fd_, 4, &length));
  if (!complete) return DataLoss(where + ": the file ends early (truncated)");
  const uint32_t body_bytes = ReadBigEndian32(length);
  if (body_bytes != static_cast<uint64_t>(expected.stored_bytes)) {
    return DataLoss(where + ": length " + std::to_string(body_bytes) + ", the manifest says " +
                    std::to_string(expected.stored_bytes));
  }
  std::string body;
  ASSIGN_OR_RETURN(complete, ReadExactly(fd_, body_bytes, &body));
  if (!complete) return DataLoss(where + ": the file ends early (truncated)");
  const bool last = index + 1 == piece_.chunks.size();
  in_flight_.push_back(std::async(
      std::launch::async,
      [this, index, last, where, body = std::move(body),
       expected_sm3 = expected.sm3, expected_raw = expected.raw_bytes]() -> Result<std::string> {
        const crypto::Digest32 digest = crypto::Sm3(body);
        if (!crypto::ConstantTimeEqual(crypto::DigestView(digest), expected_sm3)) {
          return DataLoss(where + ": SM3 does not match the manifest (the chunk was changed)");
        }
        const auto nonce = ChunkNonce(piece_index_, index);
        Result<crypto::SecretBytes> compressed = crypto::ThreadLocalAead(cipher_.algorithm())
            .Open(cipher_.key(),
                  std::string_view(reinterpret_cast<const char*>(nonce.data()), nonce.size()),
                  ChunkAad(backup_id_, piece_.name, index, last), body);
        if (!compressed.ok()) {
          return DataLoss(where + ": does not authenticate (changed, moved, reordered or from "
                                  "another backup)");
        }
        const unsigned long long frame =
            ZSTD_getFrameContentSize(compressed->data(), compressed->size());
        if (frame == ZSTD_CONTENTSIZE_ERROR || frame == ZSTD_CONTENTSIZE_UNKNOWN ||
            frame != static_cast<unsigned long long>(expected_raw)) {
          return DataLoss(where + ": the compressed size header does not match the manifest");
        }
        std::string raw(static_cast<size_t>(frame), '\0');
        const size_t size = ZSTD_decompressDCtx(ThreadDecompressor(), raw.data(), raw.size(),
                                                compressed->data(), compressed->size());
        if (ZSTD_isError(size) || size != raw.size()) {
          return DataLoss(where + ": does not decompress");
        }
        return raw;
      }));
  return Status::Ok();
}

Result<std::optional<std::string>> PieceReader::Next() {
  while (next_submit_ < piece_.chunks.size() &&
         in_flight_.size() < static_cast<size_t>(2 * threads_)) {
    RETURN_IF_ERROR(Submit());
  }
  if (in_flight_.empty()) {
    // Every chunk read: the file must end here (its size was checked, but
    // check anyway so a reader never accepts trailing bytes).
    std::string extra;
    ASSIGN_OR_RETURN(const bool more, ReadExactly(fd_, 1, &extra));
    if (more || !extra.empty()) {
      return DataLoss("backup " + backup_id_ + ": piece " + piece_.name +
                      ": bytes after the last chunk");
    }
    return std::optional<std::string>();
  }
  Result<std::string> raw = in_flight_.front().get();
  in_flight_.pop_front();
  if (!raw.ok()) return raw.status();
  raw_done_ += static_cast<int64_t>(raw->size());
  if (progress_) progress_(raw_done_);
  return std::optional<std::string>(std::move(raw).value());
}

Status PieceReader::ReadAll(const std::function<Status(std::string_view)>& sink) {
  while (true) {
    ASSIGN_OR_RETURN(std::optional<std::string> chunk, Next());
    if (!chunk) return Status::Ok();
    RETURN_IF_ERROR(sink(*chunk));
  }
}

}  // namespace custvault::backup
