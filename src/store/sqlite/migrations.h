// Numbered schema migrations for the SQLite store.
//
// Migration N moves the schema from version N-1 to N. The applied versions
// are rows of schema_version; Migrate applies the missing ones in order,
// each with its version row inside one transaction (SQLite DDL is
// transactional), so a crash leaves the schema at the old version or the
// new one. Running it again is a no-op. A database whose version is newer
// than this code knows is refused: an old binary must not write to a schema
// it does not understand.
#pragma once

#include "common/status.h"
#include "store/sqlite/connection.h"

namespace custvault::store::sqlite {

// The newest schema version this code knows.
int LatestSchemaVersion();

// The schema version of the database (0 when nothing was applied yet).
Result<int> ReadSchemaVersion(Connection& connection);

// kInternal with a clear message if the database is newer than this code.
Status CheckSchemaNotNewer(Connection& connection);

// Applies every missing migration up to `up_to_version` (tests pass a
// lower one to build an older schema); needs the writer connection.
Status ApplyMigrations(Connection& writer, int up_to_version = LatestSchemaVersion());

}  // namespace custvault::store::sqlite
