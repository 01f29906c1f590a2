// Owned by the shipping/operations work (issue 6, R-BAK-1): the backup
// core's archive format (backup_engine.h) as the off-site copier sees a
// location (offsite.h BackupLocationFormat): one directory per backup,
// <id>/<piece>.cvb ... and <id>/manifest.json (listed last), listed by
// ListBackups and verified by BackupEngine::Verify (the manifest's MAC,
// every chunk's SM3 and tag, every record). Damaged or unfinished backups
// and shipped segments are not listed.
//
// Thread safety: as the engine's functions (one call at a time per object).
#pragma once

#include "backup/offsite.h"
#include "common/config.h"
#include "common/env.h"
#include "crypto/keyring.h"

namespace custvault::backup {

class ArchiveLocationFormat final : public BackupLocationFormat {
 public:
  // All must outlive the object; `backup_key` is the stored "backup" key.
  ArchiveLocationFormat(Env* env, const Config& config, const crypto::Keyring& keyring,
                        crypto::WrappedKey backup_key);

  Result<std::vector<LocatedBackup>> List(const std::string& location) override;
  Status Verify(const std::string& location, const std::string& id) override;

 private:
  Env* const env_;
  const Config& config_;
  const crypto::Keyring& keyring_;
  const crypto::WrappedKey backup_key_;
};

}  // namespace custvault::backup
