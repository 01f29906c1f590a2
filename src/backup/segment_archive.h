// Owned by the shipping/operations work (issue 6, R-BAK-2a): shipped
// segments stored in the backup archive format (archive.h, written with
// the backup core's PieceWriter and records), so a segment is encrypted,
// compressed, hashed and MACed exactly like an incremental backup.
//
// A segment is a directory <dir>/<id>/ (id "YYYYMMDDTHHMMSSZ-seg-xxxxxxxx")
// with journal.cvb, audit.cvb and manifest.json (kind "segment"), built in
// <dir>/.partial-<id>/ and renamed into place once fsynced. Manifest fields
// as for an incremental, with these meanings:
//   base_id                the first segment of its shipped chain (itself
//                          for the first one, or the first after a gap)
//   previous_id / _sm3     the segment it follows and the SM3 of that
//                          manifest file (the first of a chain names itself
//                          and 32 zero bytes)
//   journal after/to_seq   the journal rows it carries
//   audit after/to_seq     the audit entries it carries; its checkpoints
//                          are those among them (rowid 0: a restore
//                          inserts them by seq), and the head when it is
//                          the last entry's
// The pieces hold records (records.h): 'J' rows in journal.cvb; 'E', 'C'
// and 'H' in audit.cvb.
//
// Thread safety: one writer at a time per directory (the shipper);
// List/Read may run beside it. Errors: kDataLoss naming the segment (and
// piece, chunk) for anything damaged; kNotFound for a missing directory.
#pragma once

#include <memory>
#include <string>

#include "backup/piece_io.h"
#include "backup/shipper.h"
#include "common/env.h"
#include "crypto/keyring.h"

namespace custvault::backup {

struct SegmentArchiveOptions {
  std::string crypto_profile = "default";  // "gm": SM4-GCM chunks
  int schema_version = 0;                  // of the database the rows come from
  PieceOptions piece{.chunk_bytes = size_t{1} << 20, .zstd_level = 3, .threads = 1};
};

class ArchiveSegmentFormat final : public SegmentFormat {
 public:
  // `keyring` holds the "backup" domain key (to seal archive keys and MAC
  // manifests when writing; to check and open them when reading);
  // `backup_key` is that key as stored (wrapped by the master key), written
  // into each manifest so the master key alone opens the segment. A reader
  // (restore) may pass an empty backup_key. Both must outlive the format.
  ArchiveSegmentFormat(Env* env, const crypto::Keyring& keyring, crypto::WrappedKey backup_key,
                       SegmentArchiveOptions options);

  Result<ShippedSegmentInfo> Write(const std::string& dir, const ShippedSegment& segment) override;
  Result<std::vector<ShippedSegmentInfo>> List(const std::string& dir) override;
  Result<ShippedSegment> Read(const std::string& dir, const std::string& name) override;
  Status Remove(const std::string& dir, const std::string& name) override;
  // .partial-* (a writer that died) and .removing-* (a removal cut short).
  Status RemoveLeftovers(const std::string& dir) override;

 private:
  Env* const env_;
  const crypto::Keyring& keyring_;
  const crypto::WrappedKey backup_key_;
  const SegmentArchiveOptions options_;
};

// The info a listing gives for one segment's manifest file.
Result<ShippedSegmentInfo> SegmentInfoFromManifest(std::string_view manifest_file);

}  // namespace custvault::backup
