// The backup archive format (R-BAK-1, R-BAK-3), byte by byte in
// docs/formats/backup-archive.md.
//
// A backup is a directory <location>/<backup id>/ holding one file per
// piece (<piece>.cvb: the piece's bytes, zstd-compressed and encrypted in
// authenticated chunks) and manifest.json, written last. The directory is
// built under a hidden name and renamed into place only when complete, so
// a directory with a visible name and a manifest is a complete backup.
//
// Keys: every backup has its own random 32-byte archive key, sealed in the
// manifest by the vault's "backup" domain key (Keyring::SealWithDomainKey,
// bound to the backup id); the domain key itself travels in the manifest
// wrapped by the master key, so the master key alone opens any backup.
// The manifest is MACed with the backup domain key (HMAC-SM3), and the
// SM3 of each manifest file is recorded in the next backup of its chain.
// Chunk associated data binds the backup id, the piece name, the chunk
// index and whether it is the last chunk, so a chunk moved to another
// place, another piece or another backup, or a truncated piece, fails to
// authenticate.
//
// Thread safety: the free functions are pure; Manifest is a value type.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "crypto/aead.h"
#include "crypto/keyring.h"
#include "crypto/secret.h"

namespace custvault::backup {

inline constexpr int kFormatVersion = 1;
inline constexpr char kManifestFileName[] = "manifest.json";
inline constexpr char kPieceFileSuffix[] = ".cvb";
inline constexpr char kStreamMagic[8] = {'C', 'V', 'B', 'K', 'S', 'T', 'R', 'M'};
inline constexpr size_t kStreamHeaderBytes = 12;  // magic, version, algorithm, 2 reserved
inline constexpr size_t kArchiveKeyBytes = 32;
inline constexpr size_t kManifestBytesMax = size_t{64} << 20;
inline constexpr size_t kChunkRawBytesMax = size_t{64} << 20;  // the AEAD limit
inline constexpr size_t kChunkBytesMin = 4 << 10;  // as [backup] chunk_bytes allows
inline constexpr size_t kChunksPerPieceMax = 1'000'000;
inline constexpr size_t kPiecesMax = 16;
inline constexpr size_t kBackupIdBytesMax = 64;
inline constexpr std::string_view kBackupKeyPurpose = "backup";

// Piece names.
inline constexpr char kPieceCustomerDb[] = "custvault.db";  // full: the database snapshot
inline constexpr char kPieceAuditDb[] = "audit.db";         // full: the audit log snapshot
inline constexpr char kPieceConfig[] = "custvault.toml";    // full: the configuration
inline constexpr char kPieceJournal[] = "journal";          // incremental/segment: journal rows
inline constexpr char kPieceAudit[] = "audit";              // incremental/segment: audit rows

enum class BackupKind { kFull, kIncremental, kSegment };
std::string_view BackupKindName(BackupKind kind);  // "full" | "incremental" | "segment"
std::optional<BackupKind> ParseBackupKind(std::string_view name);

// "20261129T030000Z-full-1a2b3c4d": sorts by time; kind; 8 random hex digits.
std::string MakeBackupId(int64_t now_us, BackupKind kind, std::string_view random_hex8);
bool IsValidBackupId(std::string_view id);

struct ChunkInfo {
  std::string sm3;  // 32 bytes: SM3 of the stored chunk body (ciphertext and tag)
  int64_t stored_bytes = 0;
  int64_t raw_bytes = 0;
};

struct PieceInfo {
  std::string name;
  std::string file;  // name + ".cvb"
  int64_t raw_bytes = 0;
  int64_t stored_bytes = 0;  // the whole file
  std::vector<ChunkInfo> chunks;
};

struct Manifest {
  int version = kFormatVersion;
  std::string id;
  BackupKind kind = BackupKind::kFull;
  int64_t created_at_us = 0;
  std::string base_id;      // the full backup of the chain ("" for a full)
  std::string previous_id;  // the backup this one follows ("" for a full)
  std::string previous_manifest_sm3;  // 32 bytes, SM3 of the previous manifest file
  int schema_version = 0;
  std::string crypto_profile = "default";  // "default" | "gm"
  crypto::AeadAlgorithm algorithm = crypto::AeadAlgorithm::kAes256Gcm;
  crypto::WrappedKey backup_key;  // the "backup" domain key, wrapped by the master key
  std::string archive_key;        // the archive key, sealed by the backup key (envelope)
  // The change journal: rows with journal_after_seq < seq <= journal_to_seq
  // (a full: 0 < seq <= the snapshot's position, all inside the snapshot).
  int64_t journal_after_seq = 0;
  int64_t journal_to_seq = 0;
  // The newest commit this backup includes (a full: the snapshot's last
  // journal row; an incremental: its last row, or its predecessor's point).
  int64_t point_us = 0;
  // The audit log: entries after_seq < seq <= to_seq, checkpoint rows by
  // rowid likewise; alert ids up to alert_id.
  int64_t audit_after_seq = 0;
  int64_t audit_to_seq = 0;
  int64_t audit_checkpoint_after_rowid = 0;
  int64_t audit_checkpoint_to_rowid = 0;
  int64_t audit_last_time_us = 0;
  int64_t alert_id = 0;
  // Figures (never personal data).
  int64_t customers = -1;  // a full: customers in the snapshot; -1 otherwise
  int64_t audit_entries = 0;
  int64_t journal_rows = 0;
  int64_t raw_bytes = 0;
  int64_t stored_bytes = 0;
  std::vector<PieceInfo> pieces;

  const PieceInfo* FindPiece(std::string_view name) const;
};

// The manifest file: the body as one line of JSON, then a line with its
// MAC. Returns the file bytes.
Result<std::string> SealManifest(const Manifest& manifest, const crypto::Keyring& keyring);

// Parses a manifest file without checking its MAC (listing needs no key).
// kDataLoss naming the field for anything malformed or out of range.
Result<Manifest> ParseManifest(std::string_view file);
// Checks the MAC (constant time) with the backup key the keyring holds:
// kDataLoss if it does not match, kNotFound if that key version is not loaded.
Status VerifyManifestMac(std::string_view file, const crypto::Keyring& keyring);

// The chunk encryption of one backup.
class ArchiveCipher {
 public:
  ArchiveCipher(crypto::AeadAlgorithm algorithm, crypto::SecretBytes archive_key);
  crypto::AeadAlgorithm algorithm() const { return algorithm_; }
  std::string_view key() const;  // the bytes the algorithm uses

 private:
  crypto::AeadAlgorithm algorithm_;
  crypto::SecretBytes archive_key_;
};

// Draws a fresh archive key for `manifest` (its id set), seals it with the
// keyring's backup domain key into manifest->archive_key, and returns the
// cipher that encrypts the backup's chunks with it.
Result<ArchiveCipher> NewArchiveCipher(Env* env, const crypto::Keyring& keyring,
                                       Manifest* manifest);

std::string ChunkAad(std::string_view backup_id, std::string_view piece, uint64_t index,
                     bool last);
std::array<uint8_t, crypto::kAeadNonceBytes> ChunkNonce(uint32_t piece_index, uint64_t index);
std::string StreamHeader(crypto::AeadAlgorithm algorithm);

}  // namespace custvault::backup
