// SqliteBusinessStore: the BusinessStore on the tables of migration 3, in
// the same SQLite file as the customers and through the same connections
// (like SqliteIdentityStore): writes go through SqliteStore::WithWriter
// (the one writer, serialised with every other write), reads borrow from
// its reader pool. One file means the business rows are deleted in the
// customer's own delete transaction (ON DELETE CASCADE, foreign_keys on)
// and backed up with it.
//
// Single-row inserts are one transaction and one fsync each (they do not
// join the customer writes' group commit); imports use InsertTransactions.
#pragma once

#include <functional>

#include "store/business_store.h"
#include "store/sqlite/sqlite_store.h"

namespace custvault::store::sqlite {

class SqliteBusinessStore final : public BusinessStore {
 public:
  // `base` must outlive this object.
  explicit SqliteBusinessStore(SqliteStore& base) : base_(base) {}

  Result<int64_t> InsertTransaction(const TransactionRecord& record,
                                    AuditOutboxEntry* audit = nullptr) override;
  Status InsertTransactions(const std::vector<TransactionRecord>& records) override;
  Result<TransactionPage> ListTransactions(const std::string& customer_id,
                                           const std::optional<std::string>& cursor,
                                           int limit) override;

  Status InsertComplaint(const ComplaintRecord& record, AuditOutboxEntry* audit = nullptr) override;
  Result<ComplaintRecord> GetComplaint(const std::string& customer_id,
                                       const std::string& complaint_id) override;
  Status CloseComplaint(const std::string& customer_id, const std::string& complaint_id,
                        int64_t closed_at_us, const std::string& closed_by,
                        AuditOutboxEntry* audit = nullptr) override;
  Result<ComplaintPage> ListComplaints(const std::string& customer_id,
                                       const std::optional<std::string>& cursor,
                                       int limit) override;

  Status InsertCooperation(const CooperationRecord& record,
                           AuditOutboxEntry* audit = nullptr) override;
  Result<CooperationPage> ListCooperation(const std::string& customer_id,
                                          const std::optional<std::string>& cursor,
                                          int limit) override;

  Result<BusinessTotalsById> TotalsForIdRange(const std::string& first_id,
                                              const std::string& last_id,
                                              int64_t since_us) override;
  Result<BusinessTotals> TotalsFor(const std::string& customer_id, int64_t since_us) override;

 private:
  // Runs `work` in one write transaction on the shared writer.
  Status Write(const std::function<Status(Connection&)>& work);

  SqliteStore& base_;
};

}  // namespace custvault::store::sqlite
