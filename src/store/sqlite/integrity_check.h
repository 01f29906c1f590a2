// Owned by the shipping/operations work (issue 6, R-BAK-2): SQLite's own
// structural check of a database file, for restore tests.
//
// Opens `path` read-only (never creating it), runs PRAGMA integrity_check
// and returns "ok" when SQLite finds nothing wrong, else its first message
// (at most kIntegrityMessageBytesMax bytes; SQLite names pages, tables and
// indexes, never row contents). kNotFound if the file is missing; the
// opening error (kDataLoss for a file that is not a database) otherwise.
// Thread safety: a function with its own connection.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace custvault::store::sqlite {

inline constexpr size_t kIntegrityMessageBytesMax = 400;

Result<std::string> CheckDatabaseIntegrity(const std::string& path);

}  // namespace custvault::store::sqlite
