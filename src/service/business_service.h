// BusinessService: the business records kept per customer (R-TAG-2):
// transactions, complaints and cooperation records, which feed the tag
// rules (R-TAG-1). Shared by the HTTP API and the CLI.
//
// Who may do what (policy/policy.h): business.write adds records and
// closes complaints (info_manager, channel systems); business.read lists
// them (info_manager, dept_head). Summaries (complaints, cooperation) may
// hold personal data: they are sealed with the customer's own data key,
// bound to the customer and the record id, exactly like a protected field,
// so crypto-shredding the customer shreds them too. They are shown per the
// role's read access to the business field class: reveal -> the text,
// masked -> MaskSummary's form, none -> absent (a channel that adds a
// complaint gets it back without its summary).
//
// Every call is audited (business.add / business.list with the record kind,
// record id and counts, never amounts or summaries); an entry that cannot
// be made durable fails the call (no audit, no access). A denied role gets
// 403 and an access.denied entry (AccountService::Authorize). Invalid input
// is refused whole with every failing field named (422).
//
// Thread safety: every method may be called from many threads at once;
// SetRecordsChangedHook may be called at any time.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "service/account_service.h"
#include "service/actor.h"
#include "service/audit_service.h"
#include "store/business_store.h"
#include "store/store.h"

namespace custvault::service {

// Input limits (besides those of store/business_store.h).
inline constexpr size_t kBusinessSummaryBytesMax = 2000;  // UTF-8 bytes of a summary
inline constexpr size_t kBusinessTimeTextBytesMax = 40;   // an RFC 3339 date-time
// How far in the future an event time may lie (clock skew between systems).
inline constexpr int64_t kBusinessFutureSkewUs = 5 * 60 * int64_t{1'000'000};

// A new transaction as received. Times are RFC 3339 text ("" = absent);
// `decode_errors` carries what the caller found while decoding the request
// (a wrong JSON type), reported together with the service's own findings.
struct NewTransaction {
  std::optional<int64_t> amount_fen;  // required; != 0, |amount| <= 10^13; < 0 for a refund
  std::string occurred_at;            // required; not before 1970, <= now + 5 min
  std::string channel;                // required; 1..64 of [A-Za-z0-9_.:-]
  std::string reference;              // optional; 0..64 of the same
  std::vector<FieldError> decode_errors;
};

struct NewComplaint {
  std::string opened_at;  // required; not before 1970, <= now + 5 min
  std::string closed_at;  // optional; >= opened_at, <= now + 5 min
  std::string status;     // optional: "open" | "closed"; must agree with closed_at
  std::string summary;    // required; 1..2000 bytes of UTF-8 (sealed at rest)
  std::vector<FieldError> decode_errors;
};

struct NewCooperation {
  std::string started_at;  // required; not before 1970, <= now + 5 min
  std::string ended_at;    // optional; >= started_at (may be a planned end in the future)
  std::string kind;        // required; 1..64 of [A-Za-z0-9_.:-], e.g. "distributor"
  std::string summary;     // required; 1..2000 bytes of UTF-8 (sealed at rest)
  std::vector<FieldError> decode_errors;
};

struct TransactionView {
  std::string id;  // "TX" + decimal
  std::string customer_id;
  int64_t amount_fen = 0;
  int64_t occurred_at_us = 0;
  std::string channel;
  std::string reference;
  std::string created_by;  // "staff:<account id>" | "channel:<name>"
  int64_t created_at_us = 0;
};

// How a summary is shown to the caller's role.
enum class SummaryShown { kFull, kMasked, kHidden };
std::string_view SummaryShownName(SummaryShown shown);  // "full" | "masked" | "hidden"

struct ComplaintView {
  std::string id;  // "CM" + 16 hex digits
  std::string customer_id;
  int64_t opened_at_us = 0;
  std::optional<int64_t> closed_at_us;
  std::string status;                  // "open" | "closed"
  std::optional<std::string> summary;  // absent when hidden
  SummaryShown summary_shown = SummaryShown::kHidden;
  std::string created_by;
  int64_t created_at_us = 0;
  std::string closed_by;  // "" while open
};

struct CooperationView {
  std::string id;  // "CO" + 16 hex digits
  std::string customer_id;
  int64_t started_at_us = 0;
  std::optional<int64_t> ended_at_us;
  std::string kind;
  std::optional<std::string> summary;
  SummaryShown summary_shown = SummaryShown::kHidden;
  std::string created_by;
  int64_t created_at_us = 0;
};

template <typename View>
struct BusinessListPage {
  std::vector<View> items;
  std::optional<std::string> next_cursor;
};

// The masked form of a summary for roles with masked read access to
// business data: its first two characters and "…" when it has more than
// six characters (so a short one, which might be all a name, is never
// mostly shown), otherwise "…" alone: "客户反映收到的货物破损" -> "客户…".
std::string MaskSummary(std::string_view summary);

// "TX" + id and back; std::nullopt for anything else.
std::string TransactionIdText(int64_t id);
std::optional<int64_t> ParseTransactionId(std::string_view text);

class BusinessService {
 public:
  // All references must outlive the service.
  BusinessService(Env* env, const Config& config, const crypto::Keyring& keyring,
                  store::Store& store, store::BusinessStore& business, AccountService& accounts,
                  AuditRecorder& audit);

  // Each: 403 without business.write; 422 with every failing field; 404 if
  // the customer does not exist; 409 for a transaction whose (channel,
  // reference) exists.
  Result<TransactionView> AddTransaction(const Actor& actor, const std::string& customer_id,
                                         const NewTransaction& input);
  Result<ComplaintView> AddComplaint(const Actor& actor, const std::string& customer_id,
                                     const NewComplaint& input);
  // closed_at: RFC 3339, "" for now. 404 unless the complaint belongs to
  // the customer; 409 if it is closed already; 422 if closed_at is before
  // it was opened or in the future.
  Result<ComplaintView> CloseComplaint(const Actor& actor, const std::string& customer_id,
                                       const std::string& complaint_id,
                                       const std::string& closed_at);
  Result<CooperationView> AddCooperation(const Actor& actor, const std::string& customer_id,
                                         const NewCooperation& input);

  // Newest first. 403 without business.read; 404 if the customer does not
  // exist; 400 for a bad cursor or limit (1..limits.page_size_max).
  Result<BusinessListPage<TransactionView>> ListTransactions(
      const Actor& actor, const std::string& customer_id, const std::optional<std::string>& cursor,
      std::optional<int> limit);
  Result<BusinessListPage<ComplaintView>> ListComplaints(const Actor& actor,
                                                         const std::string& customer_id,
                                                         const std::optional<std::string>& cursor,
                                                         std::optional<int> limit);
  Result<BusinessListPage<CooperationView>> ListCooperation(
      const Actor& actor, const std::string& customer_id, const std::optional<std::string>& cursor,
      std::optional<int> limit);

  // Called with the customer id after every successful add or close, so
  // the customer's tags can be recomputed. Its outcome never changes the
  // call's (exceptions are swallowed). It runs on the caller's thread after
  // the record is durable and audited, so a slow hook delays the answer.
  // An empty function removes it.
  void SetRecordsChangedHook(std::function<void(const std::string& customer_id)> hook);

 private:
  Status Audit(const Actor& actor, std::string_view operation, std::string_view customer_id,
               std::string_view result, boost::json::object details);
  // 404 (audited as a failed `operation` of `kind`) unless the customer exists.
  Status RequireCustomer(const Actor& actor, std::string_view operation, std::string_view kind,
                         const std::string& customer_id);
  // The customer's row, for its data key; 404 (audited) if absent.
  Result<store::CustomerRecord> LoadCustomer(const Actor& actor, std::string_view operation,
                                             std::string_view kind, const std::string& customer_id);
  Result<int> PageLimit(std::optional<int> limit) const;
  // A fresh record id: prefix + 16 hex digits.
  Result<std::string> NewRecordId(std::string_view prefix);
  Result<std::string> SealSummary(const store::CustomerRecord& customer,
                                  const crypto::SecretBytes& key, std::string_view binding,
                                  std::string_view summary) const;
  // The summary as the actor's role may see it (decrypted only if shown).
  Result<std::optional<std::string>> ShowSummary(const Actor& actor,
                                                 const store::CustomerRecord& customer,
                                                 std::optional<crypto::SecretBytes>& key,
                                                 std::string_view binding,
                                                 std::string_view sealed) const;
  SummaryShown ShownTo(const Actor& actor) const;
  Result<ComplaintView> ComplaintToView(const Actor& actor, const store::CustomerRecord& customer,
                                        std::optional<crypto::SecretBytes>& key,
                                        const store::ComplaintRecord& record) const;
  Result<CooperationView> CooperationToView(const Actor& actor,
                                            const store::CustomerRecord& customer,
                                            std::optional<crypto::SecretBytes>& key,
                                            const store::CooperationRecord& record) const;
  void RecordsChanged(const std::string& customer_id);

  Env* env_;
  const Config& config_;
  const crypto::Keyring& keyring_;
  store::Store& store_;
  store::BusinessStore& business_;
  AccountService& accounts_;
  AuditRecorder& audit_;
  std::mutex hook_mutex_;
  std::function<void(const std::string&)> hook_;  // guarded by hook_mutex_
};

// Attempts at a free complaint or cooperation id before giving up (503).
inline constexpr int kBusinessIdAttemptsMax = 8;

}  // namespace custvault::service
