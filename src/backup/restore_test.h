// Owned by the shipping/operations work (issue 6, R-BAK-2 / R-BAK-2a).
// Restore tests: restore the newest chain into a scratch directory, check it, record the result.
//
// (Work in progress: the interface below is being written; it builds on the
// archive writer/reader of the backup core in src/backup/.)
#pragma once

namespace custvault::backup {}  // namespace custvault::backup
