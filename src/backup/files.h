// File-system steps of backups that Env does not offer (directories,
// fsync of a directory, advisory locks, streaming): kept in this one file
// so the rest of backup/ reads as policy, not system calls.
//
// Thread safety: free functions; a LocationLock is one per holder.
// Errors: kInternal naming the path and the system's reason; kNotFound for
// a missing path where the function says so.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace custvault::backup {

// Creates `path` with mode 0700 (parents 0700 too); kConflict if it exists.
Status CreateNewDirectory(const std::string& path);
// Creates `path` (and parents) with mode 0700 if missing.
Status EnsureDirectory(const std::string& path);
Status FsyncDirectory(const std::string& path);
// rename(2) of a directory or file, then fsync of the destination's parent.
Status RenameDurably(const std::string& from, const std::string& to);
Status RemoveTree(const std::string& path);
// Names in a directory (not "." or ".."), sorted; kNotFound if it is missing.
Result<std::vector<std::string>> ListDirectory(const std::string& path);
bool IsDirectory(const std::string& path);
bool PathExists(const std::string& path);
// Writes a new file (mode 0600; kConflict if it exists) and fsyncs it.
Status WriteNewFile(const std::string& path, const std::string& data);
// Reads a whole file of at most max_bytes (kTooLarge above); kNotFound if missing.
Result<std::string> ReadWholeFile(const std::string& path, size_t max_bytes);
// Copies a file (mode 0600, fsynced); kConflict if `to` exists.
Status CopyFile(const std::string& from, const std::string& to);
std::string ParentDirectory(const std::string& path);

// A directory made new for a backup being written, removed with all in it
// on destruction unless Keep() was called (it was renamed into place).
class StagingDirectory {
 public:
  // kConflict if `path` exists.
  static Result<std::unique_ptr<StagingDirectory>> Create(std::string path);
  ~StagingDirectory();
  StagingDirectory(const StagingDirectory&) = delete;
  StagingDirectory& operator=(const StagingDirectory&) = delete;
  const std::string& path() const { return path_; }
  void Keep() { keep_ = true; }

 private:
  explicit StagingDirectory(std::string path) : path_(std::move(path)) {}
  std::string path_;
  bool keep_ = false;
};

// An exclusive flock on <directory>/.lock, released on destruction (and by
// the kernel if the process dies). kConflict if another holder has it,
// naming what the holder said it runs (SetHolder: a backup id), never the
// directory (issue 11.11: the answer goes to API clients).
class LocationLock {
 public:
  static Result<std::unique_ptr<LocationLock>> Acquire(const std::string& directory,
                                                       const std::string& file_name);
  // Records what the holder runs (a backup id: letters, digits, '-', at most
  // 64 bytes) in the lock file, for Acquire's refusal of the others.
  Status SetHolder(const std::string& what);
  ~LocationLock();
  LocationLock(const LocationLock&) = delete;
  LocationLock& operator=(const LocationLock&) = delete;

 private:
  explicit LocationLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace custvault::backup
