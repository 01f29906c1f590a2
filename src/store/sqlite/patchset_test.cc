// Tests of the patchset reader against patchsets SQLite itself made: every
// change the session extension's own iterator sees, with the same table,
// operation and values; and truncated or damaged input is refused.
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "store/sqlite/patchset.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

namespace custvault::store::sqlite {
namespace {

std::string MakePatchset(const char* setup, const char* changes) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, setup, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_session* session = nullptr;
  EXPECT_EQ(sqlite3session_create(db, "main", &session), SQLITE_OK);
  EXPECT_EQ(sqlite3session_attach(session, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, changes, nullptr, nullptr, nullptr), SQLITE_OK);
  int size = 0;
  void* data = nullptr;
  EXPECT_EQ(sqlite3session_patchset(session, &size, &data), SQLITE_OK);
  std::string out(static_cast<const char*>(data), static_cast<size_t>(size));
  sqlite3_free(data);
  sqlite3session_delete(session);
  sqlite3_close(db);
  return out;
}

constexpr char kSchema[] =
    "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, r REAL, b BLOB, z TEXT);"
    "CREATE TABLE u (a INTEGER, b TEXT, c TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;"
    "INSERT INTO t VALUES ('old', 1, 1.5, x'00', NULL);"
    "INSERT INTO u VALUES (7, 'k', 'v');";
constexpr char kChanges[] =
    "INSERT INTO t VALUES ('new', -9000000000, 2.25, x'0102ff', 'text');"
    "UPDATE t SET n = 2 WHERE id = 'old';"
    "DELETE FROM u WHERE a = 7;"
    "INSERT INTO u VALUES (8, 'long', '" /* a value over 127 bytes: 2-byte varint */
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789012345678901234567890123456789');";

TEST(PatchsetTest, ReadsWhatTheSessionIteratorReads) {
  const std::string patchset = MakePatchset(kSchema, kChanges);
  struct Seen {
    std::string table;
    int op;
    size_t values;
  };
  std::vector<Seen> ours;
  std::string rebuilt;
  std::string_view last_header;
  ASSERT_TRUE(ForEachPatchsetChange(patchset, [&](const PatchsetChange& change) -> Status {
                ours.push_back({std::string(change.table->name), change.op, change.values.size()});
                if (change.table->header != last_header) rebuilt += change.table->header;
                last_header = change.table->header;
                rebuilt += change.bytes;
                if (change.table->name == "t" && change.op == kPatchsetInsert) {
                  EXPECT_EQ(change.values[0].bytes, "new");
                  EXPECT_EQ(change.values[1].integer, -9000000000);
                  EXPECT_EQ(change.values[3].bytes, std::string("\x01\x02\xff", 3));
                  EXPECT_EQ(change.values[4].type, PatchsetValue::kText);
                }
                if (change.table->name == "t" && change.op == kPatchsetUpdate) {
                  EXPECT_EQ(change.values[0].bytes, "old");  // the key
                  EXPECT_EQ(change.values[1].integer, 2);     // the change
                  EXPECT_EQ(change.values[2].type, PatchsetValue::kUndefined);
                }
                if (change.table->name == "u" && change.op == kPatchsetDelete) {
                  EXPECT_EQ(change.values.size(), 2u);  // the key only
                  EXPECT_EQ(change.values[0].integer, 7);
                }
                if (change.table->name == "u" && change.op == kPatchsetInsert) {
                  EXPECT_EQ(change.values[2].bytes.size(), 140u);
                }
                return Status::Ok();
              }).ok());
  EXPECT_EQ(rebuilt, patchset);  // the pieces cover the input exactly

  std::vector<Seen> theirs;
  sqlite3_changeset_iter* iter = nullptr;
  ASSERT_EQ(sqlite3changeset_start(&iter, static_cast<int>(patchset.size()),
                                   const_cast<char*>(patchset.data())),
            SQLITE_OK);
  while (sqlite3changeset_next(iter) == SQLITE_ROW) {
    const char* table = nullptr;
    int columns = 0, op = 0, indirect = 0;
    sqlite3changeset_op(iter, &table, &columns, &op, &indirect);
    theirs.push_back({table, op, 0});
  }
  sqlite3changeset_finalize(iter);
  ASSERT_EQ(ours.size(), theirs.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].table, theirs[i].table);
    EXPECT_EQ(ours[i].op, theirs[i].op);
  }
}

TEST(PatchsetTest, EveryTruncationIsRefusedNeverOverread) {
  const std::string patchset = MakePatchset(kSchema, kChanges);
  for (size_t length = 1; length < patchset.size(); ++length) {
    // A copy of exactly `length` bytes, so a read past it is caught by ASan.
    const std::string cut = patchset.substr(0, length);
    int visited = 0;
    const Status status = ForEachPatchsetChange(cut, [&](const PatchsetChange&) -> Status {
      ++visited;
      return Status::Ok();
    });
    // A cut at a change boundary is a shorter valid patchset; anywhere else
    // it is malformed.
    if (!status.ok()) {
      EXPECT_EQ(status.code(), ErrorCode::kDataLoss) << length;
    }
  }
}

TEST(PatchsetTest, ChangesetsAndGarbageAreRefused) {
  EXPECT_EQ(ForEachPatchsetChange(std::string("T\x01\x01t\x00", 5),
                                  [](const PatchsetChange&) { return Status::Ok(); })
                .code(),
            ErrorCode::kDataLoss);
  EXPECT_EQ(ForEachPatchsetChange("\x12\x00\x05",
                                  [](const PatchsetChange&) { return Status::Ok(); })
                .code(),
            ErrorCode::kDataLoss);
}

}  // namespace
}  // namespace custvault::store::sqlite
