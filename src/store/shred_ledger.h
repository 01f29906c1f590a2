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
//   @as-of <us>\n                           (a claim: this copy held every
//                                            deletion of its vault committed
//                                            at or before <us>)
// The "@as-of" lines let a restore prove that the ledger it reads is at
// least as new as the backups it restores (restore.h); a ledger without
// one proves nothing. (Older readers take the line for an entry of the id
// "@as-of", which no customer has.)
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
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace custvault::store {

inline constexpr char kShredLedgerFileName[] = "shred-ledger";
inline constexpr char kShredLedgerHeader[] = "custvault-shred-ledger v1";
inline constexpr char kShredLedgerAsOfPrefix[] = "@as-of ";
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
// missing) and, when as_of_us > 0, an "@as-of" line after them, and fsyncs
// it. kInvalidArgument for an id outside 1..128 bytes or holding a space or
// newline. Nothing to write (no entries, no as_of_us): no-op.
Status AppendShredLedger(const std::string& path, std::span<const ShredEntry> entries,
                         int64_t as_of_us = 0);

struct ShredLedgerContents {
  std::vector<ShredEntry> entries;  // file order
  int64_t bad_lines = 0;            // malformed or torn lines skipped
  int64_t as_of_us = 0;             // the newest "@as-of" claim; 0: none
};
// kNotFound if the file is missing; kDataLoss if its header is wrong;
// kTooLarge over kShredLedgerBytesMax.
Result<ShredLedgerContents> ReadShredLedger(const std::string& path);

// Makes `path` hold every entry it held plus `entries` (a copy kept at a
// backup location): appends only the missing ones, and an "@as-of" line
// when as_of_us is newer than the file's claim (the caller vouches that
// `entries` and the file together hold every deletion up to as_of_us).
Status MergeShredLedger(const std::string& path, std::span<const ShredEntry> entries,
                        int64_t as_of_us = 0);

// Every copy of one vault's shred ledger (R-CRY-5, issue 10.2): the data
// directory's file first, then one in each backup location (local_dir and
// offsite_dir), so that a restore from any of them sees every deletion. The
// store calls Append after each committed delete, under its writer lease,
// and acknowledges the delete only when every copy holds it; a copy that
// could not be written is "behind" and gets every entry of the database's
// table (Sync) before its next append. Not thread-safe: the caller serialises (the writer
// lease).
class ShredLedgerSet {
 public:
  struct Copy {
    std::string place;  // said in errors: "data directory", "off-site location"
    std::string path;   // its shred-ledger file (only in the server log)
    // Create the directory when missing (the local backup location); never
    // for an off-site location, whose absence means an unmounted file system.
    bool create_directory = false;
  };
  ShredLedgerSet() = default;
  explicit ShredLedgerSet(std::vector<Copy> copies);

  bool empty() const { return copies_.empty(); }
  const std::vector<Copy>& copies() const { return copies_; }
  bool behind() const;

  // Appends `entries` and "@as-of as_of_us" to every copy; a copy that is
  // behind gets every entry of all() instead. Tries every copy; on failure
  // returns kUnavailable (kShredLedgerBehindMessage) naming the places of
  // the copies behind, never a path (the paths and errno go to the log).
  Status Append(std::span<const ShredEntry> entries, int64_t as_of_us,
                const std::function<Result<std::vector<ShredEntry>>()>& all);
  // Merges `all` (every deletion up to as_of_us) into every copy.
  Status Sync(std::span<const ShredEntry> all, int64_t as_of_us);

 private:
  Status Write(size_t copy, std::span<const ShredEntry> entries, int64_t as_of_us, bool merge);
  std::vector<Copy> copies_;
  std::vector<bool> behind_;
};

// The message prefix of the kUnavailable a delete answers when the customer
// was deleted in the database but a ledger copy could not be written: the
// delete is not acknowledged, and the copy catches up at the next delete,
// backup or start.
inline constexpr char kShredLedgerBehindMessage[] =
    "customer deleted in the database, but not yet recorded in every shred ledger";
bool IsShredLedgerBehind(const Status& status);

}  // namespace custvault::store
