// The shred ledger file (R-CRY-5): which customers were deleted, and when,
// kept OUTSIDE the database (data_dir/shred-ledger, beside the master key)
// and copied to every backup location, so that restoring an old backup can
// shred again every customer deleted after it, even when the database that
// recorded the deletion is lost. The database keeps the same entries in
// its shredded_customers table (same transaction as the delete).
//
// Format (text, one entry per line; ids are random and carry nothing
// personal; docs/formats/backup-archive.md):
//   custvault-shred-ledger v1\n
//   <customer id> <deleted_at_us>\n        (one line per deletion)
// The file is only appended to (O_APPEND, fsync after each append). A line
// without its newline (a write torn by a crash) is ignored when read, and
// ended with "!torn\n" before the next append so it never parses.
//
// The ledger is not authenticated: adding a line only makes a restore shred
// one more customer (never reveal one), and lines removed from one copy are
// still in the others and in the database (a restore takes the union).
// A customer id may be drawn again for a new customer after a deletion, so
// an entry shreds only a restored customer created at or before deleted_at_us.
//
// Thread safety: functions only; concurrent appends to one file from one
// process must be serialised by the caller (the store's writer lease does).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace custvault::store {

inline constexpr char kShredLedgerFileName[] = "shred-ledger";
inline constexpr char kShredLedgerHeader[] = "custvault-shred-ledger v1";
inline constexpr size_t kShredLedgerBytesMax = size_t{1} << 30;  // 1 GiB: ~40M deletions

struct ShredEntry {
  std::string customer_id;
  int64_t deleted_at_us = 0;
  bool operator==(const ShredEntry&) const = default;
  bool operator<(const ShredEntry& other) const {
    return customer_id != other.customer_id ? customer_id < other.customer_id
                                            : deleted_at_us < other.deleted_at_us;
  }
};

// Appends entries (creating the file, mode 0600, with its header if
// missing) and fsyncs it. kInvalidArgument for an id outside 1..128 bytes
// or holding a space or newline.
Status AppendShredLedger(const std::string& path, std::span<const ShredEntry> entries);

struct ShredLedgerContents {
  std::vector<ShredEntry> entries;  // file order
  int64_t bad_lines = 0;            // malformed or torn lines skipped
};
// kNotFound if the file is missing; kDataLoss if its header is wrong;
// kTooLarge over kShredLedgerBytesMax.
Result<ShredLedgerContents> ReadShredLedger(const std::string& path);

// Makes `path` hold every entry it held plus `entries` (a copy kept at a
// backup location): appends only the missing ones.
Status MergeShredLedger(const std::string& path, std::span<const ShredEntry> entries);

}  // namespace custvault::store
