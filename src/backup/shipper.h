// Owned by the shipping/operations work (issue 6, R-BAK-2 / R-BAK-2a).
// Continuous shipping of committed changes to the off-site location.
//
// (Work in progress: the interface below is being written; it builds on the
// archive writer/reader of the backup core in src/backup/.)
#pragma once

namespace custvault::backup {}  // namespace custvault::backup
