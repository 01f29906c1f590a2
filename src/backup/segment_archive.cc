// Owned by the shipping/operations work (issue 6).
#include "backup/segment_archive.h"

#include <span>

#include "audit/entry.h"
#include "backup/archive.h"
#include "backup/backup_engine.h"
#include "backup/files.h"
#include "backup/records.h"
#include "common/encoding.h"
#include "crypto/hash.h"

namespace custvault::backup {
namespace {

constexpr size_t kSegmentsMax = 100'000;  // a directory listing bigger than this is refused

std::string Sm3Of(std::string_view bytes) {
  return std::string(crypto::DigestView(crypto::Sm3(bytes)));
}

Status CheckName(const std::string& name) {
  if (!IsValidBackupId(name) || name.find("-seg-") == std::string::npos) {
    return InvalidArgument("not a shipped segment name: " + name.substr(0, 64));
  }
  return Status::Ok();
}

}  // namespace

Result<ShippedSegmentInfo> SegmentInfoFromManifest(std::string_view manifest_file) {
  ASSIGN_OR_RETURN(Manifest m, ParseManifest(manifest_file));
  if (m.kind != BackupKind::kSegment) return DataLoss("backup " + m.id + " is not a segment");
  ShippedSegmentInfo info;
  info.name = m.id;
  info.journal_from_seq = m.journal_after_seq + 1;
  info.journal_to_seq = m.journal_to_seq;
  info.audit_from_seq = m.audit_after_seq + 1;
  info.audit_to_seq = m.audit_to_seq;
  info.created_at_us = m.created_at_us;
  info.bytes = m.stored_bytes + static_cast<int64_t>(manifest_file.size());
  info.new_chain = m.base_id == m.id;
  info.chain_id = m.base_id;
  info.previous_name = m.previous_id == m.id ? std::string() : m.previous_id;
  info.manifest_sm3 = Sm3Of(manifest_file);
  return info;
}

ArchiveSegmentFormat::ArchiveSegmentFormat(Env* env, const crypto::Keyring& keyring,
                                           crypto::WrappedKey backup_key,
                                           SegmentArchiveOptions options)
    : env_(env), keyring_(keyring), backup_key_(std::move(backup_key)), options_(options) {}

Result<ShippedSegmentInfo> ArchiveSegmentFormat::Write(const std::string& dir,
                                                       const ShippedSegment& segment) {
  if (backup_key_.wrapped.empty()) return Internal("segment format opened for reading only");
  if (!segment.new_chain && (segment.previous_name.empty() || segment.chain_id.empty() ||
                             segment.previous_manifest_sm3.size() != 32)) {
    return InvalidArgument("a segment that continues a chain must name its predecessor");
  }
  RETURN_IF_ERROR(EnsureDirectory(dir));
  Manifest manifest;
  manifest.kind = BackupKind::kSegment;
  manifest.created_at_us = segment.created_at_us > 0 ? segment.created_at_us : env_->NowMicros();
  std::string random(4, '\0');
  RETURN_IF_ERROR(env_->RandomBytes(
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(random.data()), random.size())));
  manifest.id = MakeBackupId(manifest.created_at_us, BackupKind::kSegment, HexEncode(random));
  if (segment.new_chain) {
    manifest.base_id = manifest.id;
    manifest.previous_id = manifest.id;
    manifest.previous_manifest_sm3.assign(32, '\0');
  } else {
    manifest.base_id = segment.chain_id;
    manifest.previous_id = segment.previous_name;
    manifest.previous_manifest_sm3 = segment.previous_manifest_sm3;
  }
  manifest.schema_version = options_.schema_version;
  manifest.crypto_profile = options_.crypto_profile;
  manifest.algorithm = options_.crypto_profile == "gm" ? crypto::AeadAlgorithm::kSm4Gcm
                                                       : crypto::AeadAlgorithm::kAes256Gcm;
  manifest.backup_key = backup_key_;
  manifest.journal_after_seq = segment.journal_from_seq - 1;
  manifest.journal_to_seq = segment.journal_to_seq;
  manifest.journal_rows = static_cast<int64_t>(segment.journal.size());
  for (const JournalRecord& row : segment.journal) {
    manifest.point_us = std::max(manifest.point_us, row.committed_at_us);
  }
  manifest.audit_after_seq = segment.audit_from_seq - 1;
  manifest.audit_to_seq = segment.audit_to_seq;
  manifest.audit_entries = static_cast<int64_t>(segment.audit_entries.size());
  if (!segment.audit_entries.empty()) {
    manifest.audit_last_time_us = segment.audit_entries.back().time_us;
  }

  ASSIGN_OR_RETURN(const ArchiveCipher cipher, NewArchiveCipher(env_, keyring_, &manifest));
  ASSIGN_OR_RETURN(std::unique_ptr<StagingDirectory> staging_dir,
                   StagingDirectory::Create(dir + "/" + kPartialPrefix + manifest.id));
  const std::string& staging = staging_dir->path();
  auto write_piece = [&](const char* name, const std::string& bytes) -> Status {
    ASSIGN_OR_RETURN(std::unique_ptr<PieceWriter> writer,
                     PieceWriter::Create(staging + "/" + name + kPieceFileSuffix, cipher,
                                         manifest.id, name,
                                         static_cast<uint32_t>(manifest.pieces.size()),
                                         options_.piece));
    RETURN_IF_ERROR(writer->Append(bytes));
    ASSIGN_OR_RETURN(PieceInfo info, writer->Finish());
    manifest.raw_bytes += info.raw_bytes;
    manifest.stored_bytes += info.stored_bytes;
    manifest.pieces.push_back(std::move(info));
    return Status::Ok();
  };
  std::string journal;
  for (const JournalRecord& row : segment.journal) {
    AppendJournalRecord(row.seq, row.committed_at_us, row.patchset, &journal);
  }
  RETURN_IF_ERROR(write_piece(kPieceJournal, journal));
  std::string audit_bytes;
  for (const store::AuditEntryRow& entry : segment.audit_entries) {
    AppendEntryRecord(audit::ViewOf(entry), &audit_bytes);
  }
  for (const store::AuditCheckpointRow& checkpoint : segment.audit_checkpoints) {
    AppendCheckpointRecord(0, checkpoint, &audit_bytes);
  }
  if (segment.audit_head) AppendHeadRecord(*segment.audit_head, &audit_bytes);
  RETURN_IF_ERROR(write_piece(kPieceAudit, audit_bytes));

  ASSIGN_OR_RETURN(const std::string manifest_file, SealManifest(manifest, keyring_));
  RETURN_IF_ERROR(WriteNewFile(staging + "/" + kManifestFileName, manifest_file));
  RETURN_IF_ERROR(FsyncDirectory(staging));
  RETURN_IF_ERROR(RenameDurably(staging, dir + "/" + manifest.id));
  staging_dir->Keep();
  return SegmentInfoFromManifest(manifest_file);
}

Result<std::vector<ShippedSegmentInfo>> ArchiveSegmentFormat::List(const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(dir));
  if (names.size() > kSegmentsMax) {
    return TooLarge(dir + " holds over " + std::to_string(kSegmentsMax) + " entries");
  }
  std::vector<ShippedSegmentInfo> segments;
  for (const std::string& name : names) {
    if (name.empty() || name.front() == '.') continue;
    if (!IsDirectory(dir + "/" + name)) continue;
    Result<std::string> file = ReadWholeFile(dir + "/" + name + "/" + kManifestFileName,
                                             kManifestBytesMax);
    if (!file.ok()) {
      return DataLoss("shipped segment " + name + " in " + dir + ": " +
                      (file.status().code() == ErrorCode::kNotFound ? std::string("no manifest")
                                                                    : file.status().message()));
    }
    Result<ShippedSegmentInfo> info = SegmentInfoFromManifest(*file);
    if (!info.ok()) {
      return DataLoss("shipped segment " + name + " in " + dir + ": " + info.status().message());
    }
    if (info->name != name) {
      return DataLoss("shipped segment " + name + " in " + dir + ": its manifest names " +
                      info->name);
    }
    segments.push_back(std::move(*info));
  }
  SortSegments(&segments);
  return segments;
}

Result<ShippedSegment> ArchiveSegmentFormat::Read(const std::string& dir,
                                                  const std::string& name) {
  RETURN_IF_ERROR(CheckName(name));
  std::string file;
  ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(dir, name, &file));
  const std::string where = "shipped segment " + name;
  if (manifest.kind != BackupKind::kSegment) return DataLoss(where + " is not a segment");
  Status mac = VerifyManifestMac(file, keyring_);
  if (!mac.ok()) return Status(mac.code(), where + ": " + mac.message());
  ASSIGN_OR_RETURN(ArchiveCipher cipher, OpenArchiveCipher(manifest, keyring_));
  ShippedSegment segment;
  segment.journal_from_seq = manifest.journal_after_seq + 1;
  segment.journal_to_seq = manifest.journal_to_seq;
  segment.audit_from_seq = manifest.audit_after_seq + 1;
  segment.audit_to_seq = manifest.audit_to_seq;
  segment.created_at_us = manifest.created_at_us;
  segment.new_chain = manifest.base_id == manifest.id;
  segment.chain_id = manifest.base_id;
  if (!segment.new_chain) {
    segment.previous_name = manifest.previous_id;
    segment.previous_manifest_sm3 = manifest.previous_manifest_sm3;
  }
  for (const char* required : {kPieceJournal, kPieceAudit}) {
    if (manifest.FindPiece(required) == nullptr) return DataLoss(where + ": has no piece " + required);
  }
  for (size_t i = 0; i < manifest.pieces.size(); ++i) {
    const PieceInfo& piece = manifest.pieces[i];
    ASSIGN_OR_RETURN(std::unique_ptr<PieceReader> reader,
                     PieceReader::Open(dir + "/" + name + "/" + piece.file, cipher, manifest.id,
                                       piece, static_cast<uint32_t>(i), 1));
    RecordDecoder decoder(where + ": piece " + piece.name);
    const bool journal_piece = piece.name == kPieceJournal;
    RETURN_IF_ERROR(reader->ReadAll([&](std::string_view bytes) {
      return decoder.Feed(bytes, [&](Record&& record) -> Status {
        if (journal_piece) {
          auto* row = std::get_if<JournalRecord>(&record);
          if (row == nullptr) return DataLoss(where + ": piece journal holds another record");
          const int64_t expected =
              segment.journal.empty() ? segment.journal_from_seq : segment.journal.back().seq + 1;
          if (row->seq != expected) {
            return DataLoss(where + ": piece journal skips from row " +
                            std::to_string(expected - 1) + " to " + std::to_string(row->seq));
          }
          segment.journal.push_back(std::move(*row));
          return Status::Ok();
        }
        if (auto* entry = std::get_if<store::AuditEntryRow>(&record)) {
          const int64_t expected = segment.audit_entries.empty()
                                       ? segment.audit_from_seq
                                       : segment.audit_entries.back().seq + 1;
          if (entry->seq != expected) {
            return DataLoss(where + ": piece audit skips from entry " +
                            std::to_string(expected - 1) + " to " + std::to_string(entry->seq));
          }
          segment.audit_entries.push_back(std::move(*entry));
          return Status::Ok();
        }
        if (auto* checkpoint = std::get_if<CheckpointRecord>(&record)) {
          segment.audit_checkpoints.push_back(std::move(checkpoint->row));
          return Status::Ok();
        }
        if (auto* head = std::get_if<store::AuditHeadRow>(&record)) {
          segment.audit_head = std::move(*head);
          return Status::Ok();
        }
        return Status::Ok();  // alerts and login IPs: not shipped, ignored if present
      });
    }));
    RETURN_IF_ERROR(decoder.Finish());
  }
  const int64_t journal_end =
      segment.journal.empty() ? segment.journal_from_seq - 1 : segment.journal.back().seq;
  const int64_t audit_end =
      segment.audit_entries.empty() ? segment.audit_from_seq - 1 : segment.audit_entries.back().seq;
  if (journal_end != segment.journal_to_seq) {
    return DataLoss(where + ": piece journal ends at row " + std::to_string(journal_end) +
                    ", the manifest says " + std::to_string(segment.journal_to_seq));
  }
  if (audit_end != segment.audit_to_seq) {
    return DataLoss(where + ": piece audit ends at entry " + std::to_string(audit_end) +
                    ", the manifest says " + std::to_string(segment.audit_to_seq));
  }
  return segment;
}

Status ArchiveSegmentFormat::RemoveLeftovers(const std::string& dir) {
  Result<std::vector<std::string>> names = ListDirectory(dir);
  if (!names.ok()) {
    return names.status().code() == ErrorCode::kNotFound ? Status::Ok() : names.status();
  }
  for (const std::string& name : *names) {
    if (name.rfind(kPartialPrefix, 0) == 0 || name.rfind(".removing-", 0) == 0) {
      RETURN_IF_ERROR(RemoveTree(dir + "/" + name));
    }
  }
  return Status::Ok();
}

Status ArchiveSegmentFormat::Remove(const std::string& dir, const std::string& name) {
  RETURN_IF_ERROR(CheckName(name));
  const std::string path = dir + "/" + name;
  if (!PathExists(path)) return Status::Ok();
  // Hidden first (one rename), so a listing never meets half a segment.
  const std::string hidden = dir + "/.removing-" + name;
  RETURN_IF_ERROR(RenameDurably(path, hidden));
  return RemoveTree(hidden);
}

}  // namespace custvault::backup
