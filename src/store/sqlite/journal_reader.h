// Owned by the shipping/operations work (issue 6, R-BAK-2a): reads the
// change journal (store/sqlite/change_journal.h) of a custvault.db for
// continuous shipping, on a read-only connection of its own so that it
// never takes a reader from the request pool nor waits for the writer (WAL
// readers see the last committed snapshot).
//
// Seqs are contiguous: AUTOINCREMENT under one writer lock, and a rolled
// back transaction takes its seq back with it. A reader that finds the
// first row after its position is not position+1 has met a pruned journal
// (kDataLoss naming both seqs): the shipped chain has a gap.
//
// Thread safety: one thread at a time per reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace custvault::store::sqlite {

class Connection;

struct JournalRow {
  int64_t seq = 0;
  int64_t committed_at_us = 0;
  std::string customer_id;  // "" for rows of no customer (and blanked rows)
  std::string changeset;    // session patchset; empty once blanked by a shred
};

struct JournalBounds {
  int64_t first_seq = 0;  // 0 when the journal is empty
  int64_t last_seq = 0;
};

class JournalReader {
 public:
  // kNotFound if the file is missing; kInternal if it has no change
  // journal (migration 6 not applied).
  static Result<std::unique_ptr<JournalReader>> Open(const std::string& path);
  ~JournalReader();

  // Rows with seq > after_seq in seq order: at most max_rows, and no more
  // after the changesets read reach max_bytes (at least one row is always
  // returned when there is one). kDataLoss when the first row is not
  // after_seq + 1 (rows were pruned that were never read): a caller
  // starting afresh asks Bounds() and reads after first_seq - 1.
  Result<std::vector<JournalRow>> ReadAfter(int64_t after_seq, int max_rows, size_t max_bytes);
  Result<JournalBounds> Bounds();

 private:
  explicit JournalReader(std::unique_ptr<Connection> connection);
  std::unique_ptr<Connection> connection_;
};

}  // namespace custvault::store::sqlite
