// A reader for SQLite session patchsets (the change journal's format,
// store/sqlite/change_journal.h), independent of the session extension's
// iterator, so the journal can split one transaction's patchset by customer
// and a restore can find shred records without applying anything.
//
// Format (SQLite's ext/session/sqlite3session.c, "PATCHSET FORMAT"): a
// sequence of table groups, each a header
//   0x50 'P' | varint column count | one byte per column (1: primary key) |
//   table name, NUL-terminated
// followed by changes
//   op (0x12 INSERT, 0x17 UPDATE, 0x09 DELETE) | indirect flag byte | record
// where the record holds every column for INSERT, every column for UPDATE
// (undefined for columns neither in the key nor changed), and only the
// primary key columns for DELETE. A field is a type byte (0 undefined,
// 1 integer + 8 bytes big-endian, 2 real + 8 bytes, 3 text / 4 blob +
// varint length + bytes, 5 NULL). Varints are SQLite's (1-9 bytes).
//
// Pure: no I/O; thread-safe. Every length is checked against the input:
// a malformed or truncated patchset is kDataLoss, never a read past its end.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace custvault::store::sqlite {

inline constexpr uint8_t kPatchsetInsert = 0x12;  // SQLITE_INSERT
inline constexpr uint8_t kPatchsetUpdate = 0x17;  // SQLITE_UPDATE
inline constexpr uint8_t kPatchsetDelete = 0x09;  // SQLITE_DELETE

struct PatchsetValue {
  enum Type : uint8_t { kUndefined = 0, kInteger = 1, kReal = 2, kText = 3, kBlob = 4, kNull = 5 };
  Type type = kUndefined;
  int64_t integer = 0;     // kInteger
  std::string_view bytes;  // kText, kBlob; the 8 raw bytes for kReal
};

struct PatchsetTable {
  std::string_view name;
  std::vector<bool> primary_key;  // one per column
  std::string_view header;        // the header's bytes, to start a new patchset with
};

struct PatchsetChange {
  const PatchsetTable* table = nullptr;
  uint8_t op = 0;
  // INSERT and UPDATE: one value per column. DELETE: one per primary key
  // column, in column order.
  std::vector<PatchsetValue> values;
  std::string_view bytes;  // the whole change (op byte to the end of its record)
};

// Calls `visit` for every change in order; stops at the first error.
Status ForEachPatchsetChange(std::string_view patchset,
                             const std::function<Status(const PatchsetChange&)>& visit);

}  // namespace custvault::store::sqlite
