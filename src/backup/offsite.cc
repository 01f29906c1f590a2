// Owned by the shipping/operations work (issue 6).
//
// File copies here use POSIX calls directly rather than Env: Env reads and
// writes whole files in memory, and a backup is gigabytes. Tests inject
// damage through the after-copy hook instead of through Env.
#include "backup/offsite.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "common/unique_fd.h"
#include "store/shred_ledger.h"

namespace custvault::backup {
namespace {

namespace fs = std::filesystem;

std::string ErrnoText(int error) { return std::strerror(error); }

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// A relative name from a manifest must stay inside the location.
Status CheckRelativeName(const std::string& id, const std::string& name) {
  if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos ||
      name.find('\0') != std::string::npos || name.rfind(kIncomingDirName, 0) == 0) {
    return DataLoss("backup " + id + " lists a file name outside its location: " + name);
  }
  return Status::Ok();
}

// The one directory every file of a backup lives in ("<id>" for
// "<id>/manifest.json", ...), or "" when they do not share one.
std::string TopDirectory(const std::vector<std::string>& files) {
  std::string top;
  for (const std::string& name : files) {
    const size_t slash = name.find('/');
    if (slash == std::string::npos || slash == 0) return "";
    const std::string first = name.substr(0, slash);
    if (!top.empty() && first != top) return "";
    top = first;
  }
  return top;
}

}  // namespace

bool OffsiteReport::ok() const {
  return std::all_of(copied.begin(), copied.end(),
                     [](const OffsiteCopyResult& r) { return r.error.empty(); });
}

Result<int64_t> CopyFileDurably(const std::string& from, const std::string& to, int mode) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    const int error = errno;
    if (error == ENOENT) return NotFound("no file " + from);
    return Internal("cannot open " + from + ": " + ErrnoText(error));
  }
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (out.get() < 0) return Internal("cannot create " + to + ": " + ErrnoText(errno));
  std::unique_ptr<char[]> buffer(new char[kCopyBufferBytes]);
  int64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(in.get(), buffer.get(), kCopyBufferBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal("cannot read " + from + ": " + ErrnoText(errno));
    }
    if (n == 0) break;
    ssize_t written = 0;
    while (written < n) {
      const ssize_t w = ::write(out.get(), buffer.get() + written, static_cast<size_t>(n - written));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Internal("cannot write " + to + ": " + ErrnoText(errno));
      }
      written += w;
    }
    total += n;
  }
  if (::fsync(out.get()) != 0) return Internal("cannot fsync " + to + ": " + ErrnoText(errno));
  if (::close(out.release()) != 0) return Internal("cannot close " + to + ": " + ErrnoText(errno));
  return total;
}

Status SyncDirectory(const std::string& path) {
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return Internal("cannot open directory " + path + ": " + ErrnoText(errno));
  if (::fsync(dir.get()) != 0) {
    return Internal("cannot fsync directory " + path + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

OffsiteCopier::OffsiteCopier(Env* env, BackupLocationFormat& format, std::string local_dir,
                             std::string offsite_dir)
    : env_(env),
      format_(format),
      local_dir_(std::move(local_dir)),
      offsite_dir_(std::move(offsite_dir)) {}

void OffsiteCopier::Step(std::string_view text) const {
  if (progress_) progress_(text);
}

Result<OffsiteReport> OffsiteCopier::CopyMissing(const std::string& only_id) {
  OffsiteReport report;
  if (offsite_dir_.empty()) return InvalidArgument("backup.offsite_dir is not set");
  Result<std::vector<LocatedBackup>> local = format_.List(local_dir_);
  if (!local.ok()) {
    if (local.status().code() == ErrorCode::kNotFound) return report;  // nothing backed up yet
    return local.status();
  }
  // Never created here: a missing directory is an unmounted remote file
  // system, and copying onto the local disk under it would be no off-site copy.
  if (!env_->FileExists(offsite_dir_)) {
    return Unavailable("backup.offsite_dir " + offsite_dir_ +
                       " does not exist (is the remote file system mounted?)");
  }
  // The shred ledger first (R-CRY-5, issue 10.2): a backup is never
  // off-site without a ledger at least as new as it, so a restore from the
  // off-site copy shreds every customer deleted up to it (the vault's
  // deletes reach this copy directly as well).
  {
    Result<store::ShredLedgerContents> ledger =
        store::ReadShredLedger(local_dir_ + "/" + store::kShredLedgerFileName);
    if (ledger.ok()) {
      RETURN_IF_ERROR(store::MergeShredLedger(offsite_dir_ + "/" + store::kShredLedgerFileName,
                                              ledger->entries, ledger->as_of_us));
    } else if (ledger.status().code() != ErrorCode::kNotFound) {
      return ledger.status();
    }
  }
  ASSIGN_OR_RETURN(std::vector<LocatedBackup> offsite, format_.List(offsite_dir_));
  std::set<std::string> present;
  for (const LocatedBackup& backup : offsite) present.insert(backup.piece.id);

  std::sort(local->begin(), local->end(), [](const LocatedBackup& a, const LocatedBackup& b) {
    return a.piece.created_at_us != b.piece.created_at_us
               ? a.piece.created_at_us < b.piece.created_at_us
               : a.piece.id < b.piece.id;
  });
  // Whatever a crashed run left half-copied goes first.
  std::error_code ignored;
  fs::remove_all(offsite_dir_ + "/" + kIncomingDirName, ignored);
  bool found_only = only_id.empty();
  for (const LocatedBackup& backup : *local) {
    if (!only_id.empty() && backup.piece.id != only_id) continue;
    found_only = true;
    if (present.count(backup.piece.id) > 0) {
      report.already_offsite.push_back(backup.piece.id);
      continue;
    }
    OffsiteCopyResult result;
    result.id = backup.piece.id;
    const int64_t started_us = env_->NowMicros();
    Step("copying " + backup.piece.id + " off-site (" + std::to_string(backup.files.size()) +
         " files, " + std::to_string(backup.bytes) + " bytes)");
    const Status copied = CopyOne(backup, &result);
    result.duration_ms = (env_->NowMicros() - started_us) / 1000;
    if (!copied.ok()) {
      result.error = copied.ToString();
      Step("FAILED " + backup.piece.id + ": " + result.error);
    }
    report.copied.push_back(std::move(result));
  }
  if (!found_only) return NotFound("no finished backup " + only_id + " in " + local_dir_);
  return report;
}

Status OffsiteCopier::CopyOne(const LocatedBackup& backup, OffsiteCopyResult* result) {
  const std::string& id = backup.piece.id;
  if (backup.files.empty()) return DataLoss("backup " + id + " lists no files");
  for (const std::string& name : backup.files) RETURN_IF_ERROR(CheckRelativeName(id, name));
  const std::string incoming = offsite_dir_ + "/" + kIncomingDirName;
  auto clean_up = [&] {
    std::error_code ignored;
    fs::remove_all(incoming, ignored);
  };
  Status status = [&]() -> Status {
    RETURN_IF_ERROR(env_->CreateDirectories(incoming, 0700));
    std::set<std::string> directories;
    // 1. Copy and fsync every file under .incoming/.
    for (const std::string& name : backup.files) {
      const std::string to = incoming + "/" + name;
      RETURN_IF_ERROR(env_->CreateDirectories(ParentOf(to), 0700));
      ASSIGN_OR_RETURN(const int64_t bytes, CopyFileDurably(local_dir_ + "/" + name, to, 0600));
      result->bytes += bytes;
      directories.insert(ParentOf(to));
      if (after_copy_) after_copy_(to);
    }
    for (const std::string& directory : directories) RETURN_IF_ERROR(SyncDirectory(directory));
    // 2. Verify the copy where it lies, against its own manifest.
    Status verified = format_.Verify(incoming, id);
    if (!verified.ok()) {
      return Status(verified.code(), "off-site copy of " + id + " does not verify: " +
                                         verified.message());
    }
    // 3. Give the files their names. A backup that is one directory (the
    // archive format's layout) is renamed whole, so it appears at once;
    // otherwise file by file, the manifest last.
    const std::string top = TopDirectory(backup.files);
    if (!top.empty()) {
      const std::string to = offsite_dir_ + "/" + top;
      // A directory of that name the format does not list is an unfinished
      // or damaged earlier copy: this verified one replaces it.
      std::error_code ignored;
      fs::remove_all(to, ignored);
      if (::rename((incoming + "/" + top).c_str(), to.c_str()) != 0) {
        return Internal("cannot rename the copy of " + id + " into " + offsite_dir_ + ": " +
                        ErrnoText(errno));
      }
      return SyncDirectory(offsite_dir_);
    }
    std::set<std::string> final_directories;
    for (const std::string& name : backup.files) {
      const std::string to = offsite_dir_ + "/" + name;
      RETURN_IF_ERROR(env_->CreateDirectories(ParentOf(to), 0700));
      if (::rename((incoming + "/" + name).c_str(), to.c_str()) != 0) {
        return Internal("cannot rename the copy of " + name + " into " + offsite_dir_ + ": " +
                        ErrnoText(errno));
      }
      final_directories.insert(ParentOf(to));
    }
    for (const std::string& directory : final_directories) {
      RETURN_IF_ERROR(SyncDirectory(directory));
    }
    return Status::Ok();
  }();
  clean_up();
  return status;
}

Status OffsiteCopier::Prune(const std::string& location, int keep_full,
                            std::vector<std::string>* removed, RetentionPlan* plan) {
  Result<std::vector<LocatedBackup>> listed = format_.List(location);
  if (!listed.ok()) {
    if (listed.status().code() == ErrorCode::kNotFound) return Status::Ok();
    return listed.status();
  }
  std::vector<RetentionPiece> pieces;
  std::map<std::string, const LocatedBackup*> by_id;
  for (const LocatedBackup& backup : *listed) {
    pieces.push_back(backup.piece);
    by_id[backup.piece.id] = &backup;
  }
  *plan = PlanRetention(pieces, keep_full, {});
  for (const std::string& id : plan->remove) {
    const LocatedBackup& backup = *by_id.at(id);
    const std::string top = TopDirectory(backup.files);
    if (!top.empty()) {
      // Hidden first (one rename: no half-deleted backup is ever listed),
      // then removed.
      for (const std::string& name : backup.files) RETURN_IF_ERROR(CheckRelativeName(id, name));
      const std::string hidden = location + "/" + kRemovingPrefix + top;
      std::error_code ignored;
      fs::remove_all(hidden, ignored);
      if (::rename((location + "/" + top).c_str(), hidden.c_str()) != 0) {
        return Internal("cannot remove backup " + id + " from " + location + ": " +
                        ErrnoText(errno));
      }
      RETURN_IF_ERROR(SyncDirectory(location));
      fs::remove_all(hidden, ignored);
      removed->push_back(id);
      Step("retention: removed " + id + " from " + location);
      continue;
    }
    std::set<std::string> directories;
    // The manifest first: once it is gone the backup is no longer listed,
    // so a crash part-way leaves unlisted files, never a listed half.
    for (auto it = backup.files.rbegin(); it != backup.files.rend(); ++it) {
      RETURN_IF_ERROR(CheckRelativeName(id, *it));
      const std::string path = location + "/" + *it;
      const Status gone = env_->RemoveFile(path);
      if (!gone.ok() && gone.code() != ErrorCode::kNotFound) return gone;
      directories.insert(ParentOf(path));
    }
    for (const std::string& directory : directories) {
      // A directory per backup goes too once empty (rmdir refuses otherwise).
      if (directory != location) ::rmdir(directory.c_str());
    }
    RETURN_IF_ERROR(SyncDirectory(location));
    removed->push_back(id);
    Step("retention: removed " + id + " from " + location);
  }
  return Status::Ok();
}

Status OffsiteCopier::ApplyRetention(int keep_full, OffsiteReport* report,
                                     const SegmentLister& list_segments,
                                     const SegmentRemover& remove_segment) {
  RetentionPlan local_plan;
  RETURN_IF_ERROR(Prune(local_dir_, keep_full, &report->removed_local, &local_plan));
  if (offsite_dir_.empty()) return Status::Ok();
  RetentionPlan offsite_plan;
  RETURN_IF_ERROR(Prune(offsite_dir_, keep_full, &report->removed_offsite, &offsite_plan));
  if (!list_segments || !remove_segment) return Status::Ok();
  // Segments are judged against what the off-site location keeps now.
  Result<std::vector<LocatedBackup>> kept = format_.List(offsite_dir_);
  if (!kept.ok()) return kept.status();
  std::vector<RetentionPiece> pieces;
  for (const LocatedBackup& backup : *kept) pieces.push_back(backup.piece);
  ASSIGN_OR_RETURN(std::vector<RetentionSegment> segments, list_segments());
  const RetentionPlan plan = PlanRetention(pieces, keep_full, segments);
  for (const std::string& name : plan.remove_segments) {
    RETURN_IF_ERROR(remove_segment(name));
    report->removed_segments.push_back(name);
  }
  return Status::Ok();
}

}  // namespace custvault::backup
