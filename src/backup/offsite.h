// Owned by the shipping/operations work (issue 6, R-BAK-1): the off-site copy
// of finished backups and the retention of full backup chains.
//
// (Work in progress: the interface below is being written; it builds on the
// archive writer/reader of the backup core in src/backup/.)
#pragma once

namespace custvault::backup {}  // namespace custvault::backup
