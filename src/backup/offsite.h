// Owned by the shipping/operations work (issue 6, R-BAK-1): the off-site
// copy of finished backups and the retention of full backup chains in each
// location.
//
// A location is a directory (the local one, config backup.local_dir, and
// the off-site one, backup.offsite_dir, which may be a mounted remote file
// system). What a backup consists of, and how its hashes are checked, is
// the archive format's business (docs/formats/backup-archive.md): the
// copier sees it through BackupLocationFormat, which the backup core's
// format implements, so this file never parses an archive.
//
// Copy, per backup the off-site location lacks:
//   1. every file of the backup is copied (streamed, 1 MiB at a time) into
//      <offsite>/.incoming/ under its own relative name, and fsynced;
//   2. the copy is verified there against its manifest (every chunk's hash,
//      the manifest's MAC) by the format: a file damaged on the way (a
//      flaky remote mount, a full disk) is found before it gets its name;
//   3. the backup's directory is renamed into the location in one step
//      (or, for a backup that is not one directory, its files one by one,
//      the manifest last) and the directory fsynced: a backup is visible
//      off-site only when whole.
// A failed copy leaves nothing under the backup's name and is retried at
// the next run; .incoming/ is cleared at the start of each run.
//
// Retention (retention.h) is then planned in each location on its own,
// from what that location holds; a backup to delete is first renamed to a
// hidden .removing-<id> (or, not being one directory, loses its manifest
// first), so a half-deleted backup is never listed.
//
// Thread safety: one copier per process at a time (the caller serialises:
// the backup jobs run one after another). Errors name the backup and file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "backup/retention.h"
#include "common/env.h"
#include "common/status.h"

namespace custvault::backup {

inline constexpr char kIncomingDirName[] = ".incoming";
inline constexpr char kRemovingPrefix[] = ".removing-";
inline constexpr size_t kCopyBufferBytes = 1 << 20;

// One finished backup in a location, as the format lists it.
struct LocatedBackup {
  RetentionPiece piece;            // id, kind, base, time, journal position
  std::vector<std::string> files;  // relative to the location; the manifest LAST
  int64_t bytes = 0;
};

// The archive format as the copier needs it. Implemented by the backup core.
class BackupLocationFormat {
 public:
  virtual ~BackupLocationFormat() = default;
  // Finished backups in `location` (a backup being written, or without a
  // readable manifest, is not listed). kNotFound if the directory is missing.
  virtual Result<std::vector<LocatedBackup>> List(const std::string& location) = 0;
  // Checks every file of backup `id` found in `location` against its
  // manifest; kDataLoss naming the file or chunk that differs.
  virtual Status Verify(const std::string& location, const std::string& id) = 0;
};

struct OffsiteCopyResult {
  std::string id;
  int64_t bytes = 0;
  int64_t duration_ms = 0;
  std::string error;  // "" when copied and verified
};

struct OffsiteReport {
  std::vector<OffsiteCopyResult> copied;       // attempted this run
  std::vector<std::string> already_offsite;    // present and listed there
  std::vector<std::string> removed_local;      // retention
  std::vector<std::string> removed_offsite;
  std::vector<std::string> removed_segments;   // shipped segments no kept chain needs
  bool ok() const;
};

// Streams `from` into `to` (created with `mode`, truncated), fsyncs it.
// Returns the bytes copied. The parent of `to` must exist.
Result<int64_t> CopyFileDurably(const std::string& from, const std::string& to, int mode);

// fsyncs a directory (so renames and deletions in it are durable).
Status SyncDirectory(const std::string& path);

class OffsiteCopier {
 public:
  // Called after a file was copied and fsynced, before verification: tests
  // damage the copy here as a faulty remote file system would.
  using AfterCopyHook = std::function<void(const std::string& copied_path)>;
  using Progress = std::function<void(std::string_view step)>;

  // All must outlive the copier.
  OffsiteCopier(Env* env, BackupLocationFormat& format, std::string local_dir,
                std::string offsite_dir);

  void SetAfterCopyHook(AfterCopyHook hook) { after_copy_ = std::move(hook); }
  void SetProgress(Progress progress) { progress_ = std::move(progress); }

  // Copies every backup the off-site location lacks (or only `only_id`),
  // oldest first so a chain's base arrives before what depends on it.
  // A failure of one backup is recorded in its result and the others go on;
  // the Status is an error only when a location cannot be listed, or
  // kUnavailable when the off-site directory does not exist (it is never
  // created here: it may be an unmounted remote file system).
  Result<OffsiteReport> CopyMissing(const std::string& only_id = "");

  // Retention in both locations (keep_full full chains each). `segments_dir`
  // (the shipped segments, listed by `list_segments`) is pruned with the
  // off-site location's plan when given.
  using SegmentLister = std::function<Result<std::vector<RetentionSegment>>()>;
  using SegmentRemover = std::function<Status(const std::string& name)>;
  Status ApplyRetention(int keep_full, OffsiteReport* report,
                        const SegmentLister& list_segments = {},
                        const SegmentRemover& remove_segment = {});

 private:
  Status CopyOne(const LocatedBackup& backup, OffsiteCopyResult* result);
  Status Prune(const std::string& location, int keep_full, std::vector<std::string>* removed,
               RetentionPlan* plan);
  void Step(std::string_view text) const;

  Env* const env_;
  BackupLocationFormat& format_;
  const std::string local_dir_;
  const std::string offsite_dir_;
  AfterCopyHook after_copy_;
  Progress progress_;
};

}  // namespace custvault::backup
