// Owned by the shipping/operations work (issue 6).
#include "store/sqlite/journal_reader.h"

#include <sys/stat.h>

#include "store/sqlite/change_journal.h"
#include "store/sqlite/connection.h"

namespace custvault::store::sqlite {
namespace {

constexpr char kReadAfter[] =
    "SELECT seq, committed_at_us, customer_id, changeset FROM change_journal "
    "WHERE seq > ?1 ORDER BY seq LIMIT ?2";
constexpr char kBounds[] = "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM change_journal";

}  // namespace

JournalReader::JournalReader(std::unique_ptr<Connection> connection)
    : connection_(std::move(connection)) {}

JournalReader::~JournalReader() = default;

Result<std::unique_ptr<JournalReader>> JournalReader::Open(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return NotFound("no database file at " + path);
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection,
                   Connection::Open({.path = path, .read_only = true}));
  ASSIGN_OR_RETURN(const bool has_journal, HasChangeJournal(*connection));
  if (!has_journal) return Internal(path + " has no change journal (schema older than 6)");
  return std::unique_ptr<JournalReader>(new JournalReader(std::move(connection)));
}

Result<std::vector<JournalRow>> JournalReader::ReadAfter(int64_t after_seq, int max_rows,
                                                         size_t max_bytes) {
  if (max_rows < 1) return InvalidArgument("max_rows must be at least 1");
  // One read transaction: the bounds and the rows come from one snapshot.
  Transaction transaction(*connection_);
  RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kRead));
  JournalBounds bounds;
  {
    ASSIGN_OR_RETURN(auto select, connection_->Prepare(kBounds, "journal bounds"));
    ASSIGN_OR_RETURN(const bool row, select->Step());
    if (row) bounds = {select->ColumnInt64(0), select->ColumnInt64(1)};
  }
  std::vector<JournalRow> rows;
  {
    ASSIGN_OR_RETURN(auto select, connection_->Prepare(kReadAfter, "read journal"));
    select->BindInt64(1, after_seq);
    select->BindInt64(2, max_rows);
    size_t bytes = 0;
    for (;;) {
      ASSIGN_OR_RETURN(const bool row, select->Step());
      if (!row) break;
      JournalRow r;
      r.seq = select->ColumnInt64(0);
      r.committed_at_us = select->ColumnInt64(1);
      r.customer_id = std::string(select->ColumnView(2));
      r.changeset = std::string(select->ColumnView(3));
      bytes += r.changeset.size();
      rows.push_back(std::move(r));
      if (bytes >= max_bytes) break;
    }
  }
  RETURN_IF_ERROR(transaction.Commit());
  // Rows after the position that are not its successor were pruned unread.
  if (!rows.empty() && rows.front().seq != after_seq + 1) {
    return DataLoss("change journal gap: read up to seq " + std::to_string(after_seq) +
                    ", the next row is seq " + std::to_string(rows.front().seq) +
                    " (journal starts at " + std::to_string(bounds.first_seq) + ")");
  }
  return rows;
}

Result<JournalBounds> JournalReader::Bounds() {
  ASSIGN_OR_RETURN(auto select, connection_->Prepare(kBounds, "journal bounds"));
  ASSIGN_OR_RETURN(const bool row, select->Step());
  if (!row) return JournalBounds{};
  return JournalBounds{select->ColumnInt64(0), select->ColumnInt64(1)};
}

}  // namespace custvault::store::sqlite
