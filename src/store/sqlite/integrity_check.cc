// Owned by the shipping/operations work (issue 6).
#include "store/sqlite/integrity_check.h"

#include <sys/stat.h>

#include "store/sqlite/connection.h"

namespace custvault::store::sqlite {
namespace {

constexpr char kIntegrityCheck[] = "PRAGMA integrity_check(1)";

}  // namespace

Result<std::string> CheckDatabaseIntegrity(const std::string& path) {
  // Read-only opening never creates a file, but would report a missing one
  // as "unable to open": name it plainly instead.
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return NotFound("no database file at " + path);
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection,
                   Connection::Open({.path = path, .read_only = true}));
  ASSIGN_OR_RETURN(auto check, connection->Prepare(kIntegrityCheck, "integrity check"));
  Result<bool> row = check->Step();
  if (!row.ok()) {
    // A file damaged enough that the check itself cannot run is as much a
    // finding as a message from it.
    if (row.status().code() == ErrorCode::kDataLoss) {
      return row.status().message().substr(0, kIntegrityMessageBytesMax);
    }
    return row.status();
  }
  if (!*row) return Internal("integrity check returned no row");
  std::string message(check->ColumnView(0));
  if (message.size() > kIntegrityMessageBytesMax) message.resize(kIntegrityMessageBytesMax);
  return message;
}

}  // namespace custvault::store::sqlite
