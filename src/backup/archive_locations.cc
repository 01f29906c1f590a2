// Owned by the shipping/operations work (issue 6).
#include "backup/archive_locations.h"

#include "backup/backup_engine.h"

namespace custvault::backup {

ArchiveLocationFormat::ArchiveLocationFormat(Env* env, const Config& config,
                                             const crypto::Keyring& keyring,
                                             crypto::WrappedKey backup_key)
    : env_(env), config_(config), keyring_(keyring), backup_key_(std::move(backup_key)) {}

Result<std::vector<LocatedBackup>> ArchiveLocationFormat::List(const std::string& location) {
  ASSIGN_OR_RETURN(std::vector<BackupListing> listings, ListBackups(location));
  std::vector<LocatedBackup> out;
  for (const BackupListing& listing : listings) {
    if (!listing.problem.empty() || !listing.manifest) continue;
    const Manifest& m = *listing.manifest;
    if (m.kind == BackupKind::kSegment) continue;
    LocatedBackup backup;
    backup.piece.id = m.id;
    backup.piece.kind = m.kind == BackupKind::kFull ? PieceKind::kFull : PieceKind::kIncremental;
    backup.piece.base_id = m.kind == BackupKind::kFull ? "" : m.previous_id;
    backup.piece.created_at_us = m.created_at_us;
    backup.piece.journal_seq = m.journal_to_seq;
    backup.piece.audit_seq = m.audit_to_seq;
    for (const PieceInfo& piece : m.pieces) {
      backup.files.push_back(m.id + "/" + piece.file);
      backup.bytes += piece.stored_bytes;
    }
    backup.files.push_back(m.id + "/" + kManifestFileName);
    out.push_back(std::move(backup));
  }
  return out;
}

Status ArchiveLocationFormat::Verify(const std::string& location, const std::string& id) {
  BackupEngine engine(env_, EngineOptionsFromConfig(config_, location), keyring_, backup_key_);
  return engine.Verify(id).status();
}

}  // namespace custvault::backup
