#include "backup/archive.h"

#include <boost/json.hpp>
#include <ctime>

#include "common/encoding.h"
#include "crypto/hash.h"

namespace custvault::backup {
namespace {

namespace json = boost::json;

constexpr std::string_view kManifestMacContext = "custvault-backup-manifest-v1\n";
constexpr std::string_view kChunkAadContext = "custvault-backup-chunk-v1";
constexpr std::string_view kMacAlgorithm = "hmac-sm3";

void AppendU16(std::string* out, size_t value) {
  out->push_back(static_cast<char>((value >> 8) & 0xff));
  out->push_back(static_cast<char>(value & 0xff));
}

void AppendU64(std::string* out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((value >> shift) & 0xff));
}

std::string_view AlgorithmName(crypto::AeadAlgorithm algorithm) {
  return crypto::AeadAlgorithmName(algorithm);
}

// ---- parsing helpers: every error names the field ----

Status Bad(std::string_view field, std::string_view why) {
  return DataLoss("backup manifest: field \"" + std::string(field) + "\" " + std::string(why));
}

Result<const json::value*> Field(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr) return Bad(name, "is missing");
  return value;
}

Result<int64_t> IntField(const json::object& object, std::string_view name, int64_t min = 0) {
  ASSIGN_OR_RETURN(const json::value* value, Field(object, name));
  if (!value->is_int64() && !value->is_uint64()) return Bad(name, "is not an integer");
  if (value->is_uint64() && value->as_uint64() > static_cast<uint64_t>(INT64_MAX))
    return Bad(name, "is out of range");
  const int64_t number = value->is_int64() ? value->as_int64() : static_cast<int64_t>(value->as_uint64());
  if (number < min) return Bad(name, "is out of range");
  return number;
}

Result<std::string> StringField(const json::object& object, std::string_view name,
                                size_t max_bytes) {
  ASSIGN_OR_RETURN(const json::value* value, Field(object, name));
  if (!value->is_string()) return Bad(name, "is not a string");
  if (value->as_string().size() > max_bytes) return Bad(name, "is too long");
  return std::string(value->as_string());
}

Result<std::string> HexField(const json::object& object, std::string_view name, size_t max_bytes,
                             std::optional<size_t> exact = std::nullopt) {
  ASSIGN_OR_RETURN(std::string hex, StringField(object, name, max_bytes * 2));
  Result<std::string> bytes = HexDecode(hex);
  if (!bytes.ok()) return Bad(name, "is not hex");
  if (exact && bytes->size() != *exact) return Bad(name, "has the wrong length");
  return std::move(bytes).value();
}

Result<const json::object*> ObjectField(const json::object& object, std::string_view name) {
  ASSIGN_OR_RETURN(const json::value* value, Field(object, name));
  if (!value->is_object()) return Bad(name, "is not an object");
  return &value->as_object();
}

bool IsHexLower(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

json::object ManifestBody(const Manifest& m) {
  json::object body;
  body["format"] = "custvault-backup";
  body["version"] = m.version;
  body["id"] = m.id;
  body["kind"] = BackupKindName(m.kind);
  body["created_at"] = FormatRfc3339(m.created_at_us);
  body["created_at_us"] = m.created_at_us;
  body["base_id"] = m.base_id;
  body["previous_id"] = m.previous_id;
  body["previous_manifest_sm3"] = HexEncode(m.previous_manifest_sm3);
  body["schema_version"] = m.schema_version;
  json::object crypto;
  crypto["profile"] = m.crypto_profile;
  crypto["algorithm"] = AlgorithmName(m.algorithm);
  crypto["backup_key_purpose"] = m.backup_key.purpose;
  crypto["backup_key_version"] = m.backup_key.version;
  crypto["backup_key_wrapped"] = HexEncode(m.backup_key.wrapped);
  crypto["archive_key_sealed"] = HexEncode(m.archive_key);
  body["crypto"] = std::move(crypto);
  json::object journal;
  journal["after_seq"] = m.journal_after_seq;
  journal["to_seq"] = m.journal_to_seq;
  journal["point_us"] = m.point_us;
  journal["point"] = m.point_us > 0 ? FormatRfc3339(m.point_us) : std::string();
  journal["rows"] = m.journal_rows;
  body["journal"] = std::move(journal);
  json::object audit;
  audit["after_seq"] = m.audit_after_seq;
  audit["to_seq"] = m.audit_to_seq;
  audit["checkpoint_after_rowid"] = m.audit_checkpoint_after_rowid;
  audit["checkpoint_to_rowid"] = m.audit_checkpoint_to_rowid;
  audit["last_time_us"] = m.audit_last_time_us;
  audit["alert_id"] = m.alert_id;
  audit["entries"] = m.audit_entries;
  body["audit"] = std::move(audit);
  json::object counts;
  counts["customers"] = m.customers;
  counts["raw_bytes"] = m.raw_bytes;
  counts["stored_bytes"] = m.stored_bytes;
  body["counts"] = std::move(counts);
  json::array pieces;
  for (const PieceInfo& piece : m.pieces) {
    json::object p;
    p["name"] = piece.name;
    p["file"] = piece.file;
    p["raw_bytes"] = piece.raw_bytes;
    p["stored_bytes"] = piece.stored_bytes;
    json::array chunks;
    for (const ChunkInfo& chunk : piece.chunks) {
      json::object c;
      c["sm3"] = HexEncode(chunk.sm3);
      c["stored_bytes"] = chunk.stored_bytes;
      c["raw_bytes"] = chunk.raw_bytes;
      chunks.push_back(std::move(c));
    }
    p["chunks"] = std::move(chunks);
    pieces.push_back(std::move(p));
  }
  body["pieces"] = std::move(pieces);
  return body;
}

// Splits the file into its body line and its MAC line.
Result<std::pair<std::string_view, std::string_view>> SplitManifest(std::string_view file) {
  if (file.size() > kManifestBytesMax) return DataLoss("backup manifest: over 64 MiB");
  const size_t first = file.find('\n');
  if (first == std::string_view::npos) return DataLoss("backup manifest: no MAC line");
  const std::string_view body = file.substr(0, first);
  std::string_view rest = file.substr(first + 1);
  if (rest.empty() || rest.back() != '\n' || rest.find('\n') != rest.size() - 1) {
    return DataLoss("backup manifest: expected exactly two lines");
  }
  rest.remove_suffix(1);
  return std::make_pair(body, rest);
}

}  // namespace

std::string_view BackupKindName(BackupKind kind) {
  switch (kind) {
    case BackupKind::kFull:
      return "full";
    case BackupKind::kIncremental:
      return "incremental";
    case BackupKind::kSegment:
      return "segment";
  }
  return "full";
}

std::optional<BackupKind> ParseBackupKind(std::string_view name) {
  if (name == "full") return BackupKind::kFull;
  if (name == "incremental") return BackupKind::kIncremental;
  if (name == "segment") return BackupKind::kSegment;
  return std::nullopt;
}

std::string MakeBackupId(int64_t now_us, BackupKind kind, std::string_view random_hex8) {
  const std::time_t seconds = static_cast<std::time_t>(now_us / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  const std::string_view kind_short = kind == BackupKind::kFull          ? "full"
                                      : kind == BackupKind::kIncremental ? "incr"
                                                                         : "seg";
  return std::string(stamp) + "-" + std::string(kind_short) + "-" + std::string(random_hex8);
}

bool IsValidBackupId(std::string_view id) {
  // YYYYMMDDTHHMMSSZ-<kind>-<8 hex>; nothing that could climb out of a directory.
  if (id.size() < 16 + 1 + 3 + 1 + 8 || id.size() > kBackupIdBytesMax) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == 'T' || c == 'Z' || c == '-'))
      return false;
  }
  const size_t dash = id.find('-');
  if (dash != 16) return false;
  const size_t dash2 = id.find('-', dash + 1);
  if (dash2 == std::string_view::npos) return false;
  const std::string_view kind = id.substr(dash + 1, dash2 - dash - 1);
  if (kind != "full" && kind != "incr" && kind != "seg") return false;
  const std::string_view random = id.substr(dash2 + 1);
  return random.size() == 8 && IsHexLower(random);
}

const PieceInfo* Manifest::FindPiece(std::string_view name) const {
  for (const PieceInfo& piece : pieces) {
    if (piece.name == name) return &piece;
  }
  return nullptr;
}

Result<std::string> SealManifest(const Manifest& manifest, const crypto::Keyring& keyring) {
  const std::string body = json::serialize(ManifestBody(manifest));
  uint32_t key_version = 0;
  ASSIGN_OR_RETURN(std::string mac,
                   keyring.DomainMac(kBackupKeyPurpose,
                                     std::string(kManifestMacContext) + body, &key_version));
  json::object seal;
  seal["mac"] = kMacAlgorithm;
  seal["key_version"] = key_version;
  seal["value"] = HexEncode(mac);
  return body + "\n" + json::serialize(seal) + "\n";
}

Status VerifyManifestMac(std::string_view file, const crypto::Keyring& keyring) {
  ASSIGN_OR_RETURN(auto lines, SplitManifest(file));
  boost::system::error_code ec;
  json::value seal = json::parse(lines.second, ec);
  if (ec || !seal.is_object()) return DataLoss("backup manifest: MAC line is not JSON");
  const json::object& object = seal.as_object();
  ASSIGN_OR_RETURN(std::string algorithm, StringField(object, "mac", 16));
  if (algorithm != kMacAlgorithm) return Bad("mac", "names an unknown algorithm");
  ASSIGN_OR_RETURN(const int64_t version, IntField(object, "key_version", 1));
  ASSIGN_OR_RETURN(std::string mac, HexField(object, "value", 32, 32));
  // The MAC line must be exactly as SealManifest writes it, so the file
  // (whose SM3 the next backup records) has one form only.
  json::object canonical;
  canonical["mac"] = kMacAlgorithm;
  canonical["key_version"] = version;
  canonical["value"] = HexEncode(mac);
  if (json::serialize(canonical) != lines.second) {
    return DataLoss("backup manifest: the MAC line is not in its canonical form");
  }
  ASSIGN_OR_RETURN(std::string expected,
                   keyring.DomainMacWithVersion(kBackupKeyPurpose, static_cast<uint32_t>(version),
                                                std::string(kManifestMacContext) +
                                                    std::string(lines.first)));
  if (!crypto::ConstantTimeEqual(mac, expected)) {
    return DataLoss("backup manifest: MAC does not match (changed, or made with another key)");
  }
  return Status::Ok();
}

Result<Manifest> ParseManifest(std::string_view file) {
  ASSIGN_OR_RETURN(auto lines, SplitManifest(file));
  boost::system::error_code ec;
  json::value parsed = json::parse(lines.first, ec);
  if (ec || !parsed.is_object()) return DataLoss("backup manifest: body is not a JSON object");
  const json::object& body = parsed.as_object();
  Manifest m;
  ASSIGN_OR_RETURN(std::string format, StringField(body, "format", 64));
  if (format != "custvault-backup") return Bad("format", "is not custvault-backup");
  ASSIGN_OR_RETURN(const int64_t version, IntField(body, "version", 1));
  if (version != kFormatVersion) {
    return Bad("version", "is " + std::to_string(version) + ", this build reads " +
                              std::to_string(kFormatVersion));
  }
  m.version = static_cast<int>(version);
  ASSIGN_OR_RETURN(m.id, StringField(body, "id", kBackupIdBytesMax));
  if (!IsValidBackupId(m.id)) return Bad("id", "is not a backup id");
  ASSIGN_OR_RETURN(std::string kind, StringField(body, "kind", 16));
  std::optional<BackupKind> parsed_kind = ParseBackupKind(kind);
  if (!parsed_kind) return Bad("kind", "is not full, incremental or segment");
  m.kind = *parsed_kind;
  ASSIGN_OR_RETURN(m.created_at_us, IntField(body, "created_at_us", 1));
  ASSIGN_OR_RETURN(m.base_id, StringField(body, "base_id", kBackupIdBytesMax));
  ASSIGN_OR_RETURN(m.previous_id, StringField(body, "previous_id", kBackupIdBytesMax));
  ASSIGN_OR_RETURN(m.previous_manifest_sm3, HexField(body, "previous_manifest_sm3", 32));
  if (m.kind == BackupKind::kFull) {
    if (!m.base_id.empty() || !m.previous_id.empty() || !m.previous_manifest_sm3.empty())
      return Bad("base_id", "must be empty in a full backup");
  } else {
    if (!IsValidBackupId(m.base_id)) return Bad("base_id", "is not a backup id");
    if (!IsValidBackupId(m.previous_id)) return Bad("previous_id", "is not a backup id");
    if (m.previous_manifest_sm3.size() != 32) return Bad("previous_manifest_sm3", "is missing");
  }
  ASSIGN_OR_RETURN(const int64_t schema, IntField(body, "schema_version", 1));
  if (schema > 1000) return Bad("schema_version", "is out of range");
  m.schema_version = static_cast<int>(schema);

  ASSIGN_OR_RETURN(const json::object* crypto, ObjectField(body, "crypto"));
  ASSIGN_OR_RETURN(m.crypto_profile, StringField(*crypto, "profile", 16));
  if (m.crypto_profile != "default" && m.crypto_profile != "gm")
    return Bad("crypto.profile", "is not default or gm");
  ASSIGN_OR_RETURN(std::string algorithm, StringField(*crypto, "algorithm", 32));
  if (algorithm == AlgorithmName(crypto::AeadAlgorithm::kAes256Gcm)) {
    m.algorithm = crypto::AeadAlgorithm::kAes256Gcm;
  } else if (algorithm == AlgorithmName(crypto::AeadAlgorithm::kSm4Gcm)) {
    m.algorithm = crypto::AeadAlgorithm::kSm4Gcm;
  } else {
    return Bad("crypto.algorithm", "is not aes-256-gcm or sm4-gcm");
  }
  if (m.crypto_profile == "gm" && m.algorithm != crypto::AeadAlgorithm::kSm4Gcm)
    return Bad("crypto.algorithm", "must be sm4-gcm under the gm profile");
  ASSIGN_OR_RETURN(m.backup_key.purpose, StringField(*crypto, "backup_key_purpose", 64));
  if (m.backup_key.purpose != kBackupKeyPurpose) return Bad("crypto.backup_key_purpose", "is not backup");
  ASSIGN_OR_RETURN(const int64_t key_version, IntField(*crypto, "backup_key_version", 1));
  if (key_version > UINT32_MAX) return Bad("crypto.backup_key_version", "is out of range");
  m.backup_key.version = static_cast<uint32_t>(key_version);
  ASSIGN_OR_RETURN(m.backup_key.wrapped, HexField(*crypto, "backup_key_wrapped", 1024));
  ASSIGN_OR_RETURN(m.archive_key, HexField(*crypto, "archive_key_sealed", 1024));
  if (m.backup_key.wrapped.empty() || m.archive_key.empty())
    return Bad("crypto", "lacks a key");

  ASSIGN_OR_RETURN(const json::object* journal, ObjectField(body, "journal"));
  ASSIGN_OR_RETURN(m.journal_after_seq, IntField(*journal, "after_seq"));
  ASSIGN_OR_RETURN(m.journal_to_seq, IntField(*journal, "to_seq"));
  if (m.journal_to_seq < m.journal_after_seq) return Bad("journal.to_seq", "is below after_seq");
  ASSIGN_OR_RETURN(m.point_us, IntField(*journal, "point_us"));
  ASSIGN_OR_RETURN(m.journal_rows, IntField(*journal, "rows"));

  ASSIGN_OR_RETURN(const json::object* audit, ObjectField(body, "audit"));
  ASSIGN_OR_RETURN(m.audit_after_seq, IntField(*audit, "after_seq"));
  ASSIGN_OR_RETURN(m.audit_to_seq, IntField(*audit, "to_seq"));
  if (m.audit_to_seq < m.audit_after_seq) return Bad("audit.to_seq", "is below after_seq");
  ASSIGN_OR_RETURN(m.audit_checkpoint_after_rowid, IntField(*audit, "checkpoint_after_rowid"));
  ASSIGN_OR_RETURN(m.audit_checkpoint_to_rowid, IntField(*audit, "checkpoint_to_rowid"));
  ASSIGN_OR_RETURN(m.audit_last_time_us, IntField(*audit, "last_time_us"));
  ASSIGN_OR_RETURN(m.alert_id, IntField(*audit, "alert_id"));
  ASSIGN_OR_RETURN(m.audit_entries, IntField(*audit, "entries"));

  ASSIGN_OR_RETURN(const json::object* counts, ObjectField(body, "counts"));
  ASSIGN_OR_RETURN(m.customers, IntField(*counts, "customers", -1));
  ASSIGN_OR_RETURN(m.raw_bytes, IntField(*counts, "raw_bytes"));
  ASSIGN_OR_RETURN(m.stored_bytes, IntField(*counts, "stored_bytes"));

  ASSIGN_OR_RETURN(const json::value* pieces_value, Field(body, "pieces"));
  if (!pieces_value->is_array()) return Bad("pieces", "is not an array");
  const json::array& pieces = pieces_value->as_array();
  if (pieces.empty() || pieces.size() > kPiecesMax) return Bad("pieces", "has a bad count");
  for (const json::value& piece_value : pieces) {
    if (!piece_value.is_object()) return Bad("pieces", "holds a non-object");
    const json::object& p = piece_value.as_object();
    PieceInfo piece;
    ASSIGN_OR_RETURN(piece.name, StringField(p, "name", 64));
    ASSIGN_OR_RETURN(piece.file, StringField(p, "file", 80));
    if (piece.name.empty() || piece.file != piece.name + kPieceFileSuffix ||
        piece.name.find('/') != std::string::npos || piece.name.front() == '.') {
      return Bad("pieces.file", "is not the piece name + .cvb");
    }
    if (m.FindPiece(piece.name) != nullptr) return Bad("pieces.name", "repeats " + piece.name);
    ASSIGN_OR_RETURN(piece.raw_bytes, IntField(p, "raw_bytes"));
    ASSIGN_OR_RETURN(piece.stored_bytes, IntField(p, "stored_bytes"));
    ASSIGN_OR_RETURN(const json::value* chunks_value, Field(p, "chunks"));
    if (!chunks_value->is_array()) return Bad("pieces.chunks", "is not an array");
    const json::array& chunks = chunks_value->as_array();
    if (chunks.empty() || chunks.size() > kChunksPerPieceMax)
      return Bad("pieces.chunks", "has a bad count");
    int64_t raw_total = 0, stored_total = static_cast<int64_t>(kStreamHeaderBytes);
    for (const json::value& chunk_value : chunks) {
      if (!chunk_value.is_object()) return Bad("pieces.chunks", "holds a non-object");
      const json::object& c = chunk_value.as_object();
      ChunkInfo chunk;
      ASSIGN_OR_RETURN(chunk.sm3, HexField(c, "sm3", 32, 32));
      ASSIGN_OR_RETURN(chunk.stored_bytes, IntField(c, "stored_bytes", 1));
      ASSIGN_OR_RETURN(chunk.raw_bytes, IntField(c, "raw_bytes"));
      if (chunk.stored_bytes > static_cast<int64_t>(kChunkRawBytesMax + 4096) ||
          chunk.raw_bytes > static_cast<int64_t>(kChunkRawBytesMax)) {
        return Bad("pieces.chunks", "holds a chunk over the limit");
      }
      raw_total += chunk.raw_bytes;
      stored_total += 4 + chunk.stored_bytes;
      piece.chunks.push_back(std::move(chunk));
    }
    if (raw_total != piece.raw_bytes) return Bad("pieces.raw_bytes", "is not the sum of its chunks");
    if (stored_total != piece.stored_bytes)
      return Bad("pieces.stored_bytes", "is not the file size its chunks make");
    m.pieces.push_back(std::move(piece));
  }
  return m;
}

ArchiveCipher::ArchiveCipher(crypto::AeadAlgorithm algorithm, crypto::SecretBytes archive_key)
    : algorithm_(algorithm), archive_key_(std::move(archive_key)) {}

std::string_view ArchiveCipher::key() const {
  // AES-256-GCM takes the whole 32-byte key; SM4-GCM its first 16 bytes.
  return archive_key_.view().substr(0, crypto::AeadKeyBytes(algorithm_));
}

std::string ChunkAad(std::string_view backup_id, std::string_view piece, uint64_t index,
                     bool last) {
  std::string aad(kChunkAadContext);
  AppendU16(&aad, backup_id.size());
  aad += backup_id;
  AppendU16(&aad, piece.size());
  aad += piece;
  AppendU64(&aad, index);
  aad.push_back(last ? 1 : 0);
  return aad;
}

std::array<uint8_t, crypto::kAeadNonceBytes> ChunkNonce(uint32_t piece_index, uint64_t index) {
  std::array<uint8_t, crypto::kAeadNonceBytes> nonce{};
  for (int i = 0; i < 4; ++i) nonce[i] = static_cast<uint8_t>(piece_index >> (24 - 8 * i));
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<uint8_t>(index >> (56 - 8 * i));
  return nonce;
}

std::string StreamHeader(crypto::AeadAlgorithm algorithm) {
  std::string header(kStreamMagic, sizeof kStreamMagic);
  header.push_back(static_cast<char>(kFormatVersion));
  header.push_back(static_cast<char>(algorithm));
  header.push_back(0);
  header.push_back(0);
  return header;
}

Result<ArchiveCipher> NewArchiveCipher(Env* env, const crypto::Keyring& keyring,
                                       Manifest* manifest) {
  crypto::SecretBytes archive_key(kArchiveKeyBytes);
  RETURN_IF_ERROR(env->RandomBytes(std::span<uint8_t>(archive_key.data(), archive_key.size())));
  ASSIGN_OR_RETURN(manifest->archive_key,
                   keyring.SealWithDomainKey(kBackupKeyPurpose, manifest->id, archive_key.view()));
  return ArchiveCipher(manifest->algorithm, std::move(archive_key));
}

}  // namespace custvault::backup
