// Env: every operating-system service domain code uses (clock, randomness,
// files) goes through this interface, so tests can freeze time, script
// randomness and inject file failures (LevelDB's Env).
//
// Thread safety: implementations must be safe to call from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace custvault {

class Env {
 public:
  virtual ~Env() = default;

  // Wall-clock time, microseconds since the Unix epoch (UTC).
  virtual int64_t NowMicros() = 0;

  // Cryptographically secure random bytes. Fails only if the system source
  // fails, and then nothing that needed them may go on.
  virtual Status RandomBytes(std::span<uint8_t> out) = 0;

  virtual Result<std::string> ReadFile(const std::string& path) = 0;

  // Writes to path.tmp with the given permission bits, fsyncs it and renames
  // it over path, so a crash leaves either the old file or the new one.
  // Fails with kConflict if exclusive is set and path already exists.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data, int mode,
                                 bool exclusive) = 0;

  // Permission bits (mode & 07777) of an existing file; kNotFound if absent.
  virtual Result<int> FileMode(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;

  // Creates a directory (and its parents) with the given mode if missing.
  virtual Status CreateDirectories(const std::string& path, int mode) = 0;

  // The process-wide real environment. Never null; never deleted.
  static Env* Default();
};

// Formats microseconds since the epoch as RFC 3339 with offset, in UTC:
// "2026-11-29T08:15:00.123456Z" -> always with "Z" (a valid RFC 3339 offset).
std::string FormatRfc3339(int64_t unix_micros);

// "2026-11-30T10:00:00Z", "2026-11-30T18:00:00.5+08:00" -> microseconds
// since the epoch; nullopt for anything else. The grammar:
// YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM), years 0001..9999, no leap
// seconds; fractions beyond microseconds are cut.
std::optional<int64_t> ParseRfc3339(std::string_view text);

// YYYYMMDD of the given instant in the given UTC offset (seconds), e.g. China
// Standard Time is +28800.
std::string FormatYyyymmdd(int64_t unix_micros, int utc_offset_seconds);

}  // namespace custvault
