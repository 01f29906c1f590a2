// BusinessStore: the business records kept per customer (R-TAG-2) that feed
// the tag rules: transactions, complaints and cooperation records. Like
// Store, the only door to these tables; the services above never see SQL.
//
// What is stored: amounts, times, the sales channel, the complaint status
// and the cooperation kind as plain columns, so re-classification can
// aggregate them in SQL (they identify no one on their own: the customer
// row they point to is encrypted); complaint and cooperation summaries,
// which may hold personal data, only as envelopes sealed by the service
// with the customer's own data key (the store never sees their plaintext).
// Every row belongs to a customer (foreign key, ON DELETE CASCADE): deleting
// the customer deletes its business rows in the same transaction.
//
// Lists are newest first (by occurred_at / opened_at / started_at, then by
// id, both descending) and paged with the opaque cursors of store/cursor.h.
//
// Thread safety: every method may be called from many threads at once; each
// is one transaction (writes on the shared writer connection, reads on one
// reader, so TotalsForIdRange sees one snapshot).
// Errors: kInvalidArgument for a value outside its limit (checked before
// anything is written), kNotFound when the customer (or the complaint) does
// not exist, kConflict for a duplicate id or (channel, reference).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace custvault::store {

// Limits checked before any write.
inline constexpr int64_t kAmountFenAbsMax = 10'000'000'000'000;  // 10^13 fen = 10^11 CNY
inline constexpr size_t kBusinessTextBytesMax = 64;              // channel, reference, kind
inline constexpr size_t kBusinessRecordIdBytesMax = 64;          // complaint and cooperation ids
inline constexpr size_t kBusinessActorBytesMax = 160;            // created_by, closed_by
inline constexpr size_t kSealedSummaryBytesMax = 4096;  // envelope of <= 2000 bytes of text
inline constexpr size_t kTransactionBatchMax = 50'000;  // rows per InsertTransactions call

struct TransactionRecord {
  int64_t id = 0;  // assigned by the store (> 0); ignored on insert
  std::string customer_id;
  int64_t amount_fen = 0;  // != 0; negative for a refund; |amount| <= kAmountFenAbsMax
  int64_t occurred_at_us = 0;
  std::string channel;     // 1..64 bytes, e.g. "store:SH-001", "app"
  std::string reference;   // 0..64 bytes; when not empty, unique per channel
  std::string created_by;  // who recorded it: "staff:<account>" or "channel:<name>"
  int64_t created_at_us = 0;
};

struct ComplaintRecord {
  std::string id;  // chosen by the caller (the sealed summary is bound to it)
  std::string customer_id;
  int64_t opened_at_us = 0;
  std::optional<int64_t> closed_at_us;  // present exactly when status is "closed"
  std::string status = "open";          // "open" | "closed"
  std::string summary_sealed;           // envelope, 1..kSealedSummaryBytesMax bytes
  std::string created_by;
  int64_t created_at_us = 0;
  std::string closed_by;  // "" while open
};

struct CooperationRecord {
  std::string id;  // chosen by the caller (the sealed summary is bound to it)
  std::string customer_id;
  int64_t started_at_us = 0;
  std::optional<int64_t> ended_at_us;  // >= started_at_us
  std::string kind;                    // 1..64 bytes
  std::string summary_sealed;          // envelope, 1..kSealedSummaryBytesMax bytes
  std::string created_by;
  int64_t created_at_us = 0;
};

template <typename Record>
struct BusinessPage {
  std::vector<Record> items;
  std::optional<std::string> next_cursor;  // opaque; absent on the last page
};
using TransactionPage = BusinessPage<TransactionRecord>;
using ComplaintPage = BusinessPage<ComplaintRecord>;
using CooperationPage = BusinessPage<CooperationRecord>;

// The metrics of one customer that the tag rules read.
struct BusinessTotals {
  int64_t spend_fen = 0;    // sum of transaction amounts with occurred_at >= since_us
  int64_t order_count = 0;  // number of those transactions
  int64_t complaints_open = 0;
  int64_t complaints_total = 0;
  bool operator==(const BusinessTotals&) const = default;
};
using BusinessTotalsById = std::map<std::string, BusinessTotals>;

class BusinessStore {
 public:
  virtual ~BusinessStore() = default;

  // ---- transactions ----
  // Returns the new transaction's id. kNotFound if the customer does not
  // exist; kConflict if the (channel, reference) pair exists.
  // `audit`, when given, goes to the audit outbox in the same transaction
  // (store/store.h, R-AUD-6); its details_for_id gets the new id. The same
  // for InsertComplaint, CloseComplaint and InsertCooperation.
  virtual Result<int64_t> InsertTransaction(const TransactionRecord& record,
                                            AuditOutboxEntry* audit = nullptr) = 0;
  // Many at once in one transaction (imports, benchmarks); all or nothing.
  // At most kTransactionBatchMax rows (kTooLarge). Every row is checked
  // before anything is written; an error names the row by its position
  // ("transaction 17: ..."). Rows are written in (customer, time) order,
  // so their ids need not follow the order of `records`.
  virtual Status InsertTransactions(const std::vector<TransactionRecord>& records) = 0;
  virtual Result<TransactionPage> ListTransactions(const std::string& customer_id,
                                                   const std::optional<std::string>& cursor,
                                                   int limit) = 0;

  // ---- complaints ----
  virtual Status InsertComplaint(const ComplaintRecord& record,
                                 AuditOutboxEntry* audit = nullptr) = 0;
  // kNotFound unless the complaint exists and belongs to the customer.
  virtual Result<ComplaintRecord> GetComplaint(const std::string& customer_id,
                                               const std::string& complaint_id) = 0;
  // Sets status "closed", closed_at and closed_by. kNotFound as GetComplaint;
  // kConflict if it is closed already; kInvalidArgument if closed_at_us is
  // before its opened_at.
  virtual Status CloseComplaint(const std::string& customer_id, const std::string& complaint_id,
                                int64_t closed_at_us, const std::string& closed_by,
                                AuditOutboxEntry* audit = nullptr) = 0;
  virtual Result<ComplaintPage> ListComplaints(const std::string& customer_id,
                                               const std::optional<std::string>& cursor,
                                               int limit) = 0;

  // ---- cooperation records ----
  virtual Status InsertCooperation(const CooperationRecord& record,
                                   AuditOutboxEntry* audit = nullptr) = 0;
  virtual Result<CooperationPage> ListCooperation(const std::string& customer_id,
                                                  const std::optional<std::string>& cursor,
                                                  int limit) = 0;

  // ---- metrics for the tag rules ----
  // Totals for every customer with first_id <= id <= last_id that has any business record
  // (customers without records are absent: all zero). One read transaction, range scans on
  // indexes (customer_id, occurred_at, amount) and (customer_id, status); must stay fast at
  // 10,000,000 transactions over 1,000,000 customers when called for consecutive id ranges of
  // ~10,000 customers.
  // (order_count counts the transactions in the window with amount > 0: a
  // refund is a transaction but not an order; spend_fen is the net sum,
  // refunds included. Sums are exact up to 2^53 fen, about 9 * 10^13 CNY
  // per customer; beyond that approximate, saturating at the int64 limits.)
  virtual Result<BusinessTotalsById> TotalsForIdRange(const std::string& first_id,
                                                      const std::string& last_id,
                                                      int64_t since_us) = 0;
  // The same for one customer.
  virtual Result<BusinessTotals> TotalsFor(const std::string& customer_id, int64_t since_us) = 0;
};

// The BusinessStore on the same SQLite file and connections as `store`,
// which must come from OpenSqliteStore and outlive the result
// (kInvalidArgument otherwise).
Result<std::unique_ptr<BusinessStore>> OpenSqliteBusinessStore(Store& store);

}  // namespace custvault::store
