// TagService: classification tags (R-TAG-1, R-TAG-3, R-TAG-4) on top of
// the one approvals mechanism (service/approval_service.h).
//
//   - Rules versions live in the database (store/tag_store.h). Version 1
//     is seeded at the first open from tags.initial_rules_file or the
//     built-in rules; a new version is proposed (parsed first: 422 with the
//     parse error), filed as a rules_change approval, and becomes active
//     only when a department head approves it.
//   - Initial tags at creation, without approval (InitialTags, called by
//     CustomerService for every new customer: no business records yet,
//     so zeros plus the credit rating supplied).
//   - Re-classification of every customer in id order, in bounded batches
//     (memory stays flat): decrypt only the credit rating, sum the business
//     records over the rules' window for the batch's id range, classify,
//     compare; changes are written as the items of ONE tag_batch approval
//     as they are found. A dry run files nothing. Nothing changes before a
//     department head approves all, some or none of the items.
//   - A manual tag change (one customer, one dimension) is a tag_change
//     approval; so is a recomputation after a customer's data changed
//     (RecomputeCustomer), filed by the system actor "job:recompute".
//   - Approved tag changes apply in one store transaction, each only if
//     the customer's tags are still what they were when the change was
//     computed (otherwise it is skipped as stale and the approval says so:
//     an approver approved "from X to Y", not "to Y whatever it is now").
//
// Thread safety: every method may be called from many threads at once.
// The active rule set is swapped atomically when a new version is approved.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "rules/rules.h"
#include "service/account_service.h"
#include "service/actor.h"
#include "service/approval_service.h"
#include "service/audit_service.h"
#include "store/business_store.h"
#include "store/store.h"
#include "store/tag_store.h"

namespace custvault::service {

// One customer's change: the values before and after on the dimensions
// that change (a dimension absent from `from` had no tag).
struct CustomerTagChange {
  std::string customer_id;
  rules::Tags from;
  rules::Tags to;
};

// How many customers move from one value to another on a dimension.
struct TagTransitionCount {
  std::string dimension;
  std::string from;  // "" when the customer had no tag on it
  std::string to;
  int64_t customers = 0;
  // A dry run's group under kDryRunGroupMin: `customers` is 0, shown "<10".
  bool suppressed = false;
};

struct ReclassifyOptions {
  bool dry_run = false;
  // Called after each batch: (customers scanned so far, customers in total
  // when the run started).
  std::function<void(int64_t, int64_t)> progress;
};

struct ReclassifyReport {
  bool dry_run = false;
  int64_t rules_version = 0;
  int64_t customers_scanned = 0;
  int64_t customers_changed = 0;
  // Dry runs of a proposed text (and the impact of a rules_change): counts
  // under kDryRunGroupMin are not shown (issue 11.2).
  bool small_groups_suppressed = false;
  bool customers_changed_suppressed = false;  // customers_changed is then 0
  // Customers whose stored record could not be read or decrypted (named in
  // the server log by id); they are left out, not guessed.
  int64_t customers_failed = 0;
  std::vector<TagTransitionCount> transitions;
  // The first kReclassifySampleMax changes, for a person to look at.
  std::vector<CustomerTagChange> sample;
  std::optional<ApprovalView> approval;  // filed (not a dry run, and something changes)
  int64_t elapsed_us = 0;
};

inline constexpr size_t kReclassifySampleMax = 100;
// The smallest count a dry run of a proposed rules text shows (smaller
// groups answer "<10"), so counts never single out a customer.
inline constexpr int64_t kDryRunGroupMin = 10;

// Replaces every count of `report` under kDryRunGroupMin by "suppressed".
void SuppressSmallGroups(ReclassifyReport& report);
inline constexpr size_t kTagReasonBytesMax = 200;
inline constexpr int kRulesVersionsListed = 100;
// Bounds of the line diff a rules_change approval shows (issue 11.9).
inline constexpr size_t kRulesDiffLinesMax = 400;
inline constexpr size_t kRulesDiffContextLines = 3;
inline constexpr size_t kRulesDiffMatchLinesMax = 1000;

// The line diff of two rules texts ("  ", "- ", "+ " prefixes), bounded as above.
std::vector<std::string> RulesDiff(std::string_view before, std::string_view after);

struct RulesVersionView {
  int64_t version = 0;
  std::string status;  // proposed | active | superseded
  std::string text;
  std::string created_by;
  int64_t created_at_us = 0;
  std::string approval_id;      // "" for version 1
  std::string approval_status;  // the approval's status ("" for version 1)
  int64_t activated_at_us = 0;
};

struct RulesOverview {
  RulesVersionView active;
  std::vector<RulesVersionView> versions;  // newest first, at most kRulesVersionsListed
};

struct ProposedRules {
  RulesVersionView version;
  ApprovalView approval;
};

class TagService {
 public:
  // Seeds rules version 1 when the database has none, loads the active
  // version, and registers the handlers of tag_batch, tag_change and
  // rules_change with `approvals`. All references must outlive the service.
  static Result<std::unique_ptr<TagService>> Open(
      Env* env, const Config& config, const catalog::Catalog& catalog,
      const crypto::Keyring& keyring, store::Store& store, store::TagStore& tags,
      store::BusinessStore& business, ApprovalService& approvals, AccountService& accounts,
      AuditRecorder& audit);
  ~TagService();

  // R-TAG-1: the tags of a new customer from its validated, normalised
  // values (plaintext, never kept): no business records yet, so only the
  // credit rating counts. Never fails: a customer always gets tags.
  rules::Tags InitialTags(const std::map<std::string, std::string>& values) const;

  // R-TAG-3. tag.reclassify (information managers) or a job actor. Audited
  // as tag.reclassify with the counts (and the approval id when filed).
  Result<ReclassifyReport> Reclassify(const Actor& actor, const ReclassifyOptions& options);

  // R-TAG-4: files a tag_change approval for one customer's dimension.
  // tag.request; 422 for an unknown dimension, a bad value or a missing
  // reason; 409 when the customer already has that value.
  Result<ApprovalView> RequestTagChange(const Actor& actor, const std::string& customer_id,
                                        const std::string& dimension, const std::string& value,
                                        const std::string& reason);

  // After a customer's data changed (business records, contact details):
  // recomputes its tags and, when they would change and no pending
  // tag_change already proposes exactly that, files one as "job:recompute".
  // Returns the approval filed, if any. kNotFound for a missing customer.
  Result<std::optional<ApprovalView>> RecomputeCustomer(const std::string& customer_id);

  // ---- rules ----
  // rules.read.
  Result<RulesOverview> GetRules(const Actor& actor);
  // rules.change: parses (422 naming what is wrong), stores the text as the
  // next version "proposed" and files a rules_change approval.
  Result<ProposedRules> ProposeRules(const Actor& actor, const std::string& text);
  // rules.read: how many customers the text would re-tag, by transition
  // (counts only, no customer ids, counts under kDryRunGroupMin
  // suppressed). Its conditions may use only metrics the caller's role
  // reads in plaintext (403 naming the others: issue 11.2). Writes nothing
  // but the audit entry (tag.reclassify, dry_run, the metrics named; a
  // refusal too, with the reason and never the text).
  Result<ReclassifyReport> DryRunRules(const Actor& actor, const std::string& text);

  // The active rules version number.
  int64_t active_version() const;

 private:
  class TagChangesHandler;
  class RulesChangeHandler;
  struct Snapshot {
    int64_t version = 0;
    std::shared_ptr<const rules::RuleSet> rules;
  };

  TagService(Env* env, const Config& config, const catalog::Catalog& catalog,
             const crypto::Keyring& keyring, store::Store& store, store::TagStore& tags,
             store::BusinessStore& business, ApprovalService& approvals,
             AccountService& accounts, AuditRecorder& audit);

  Snapshot Current() const;
  Status LoadActive();
  // The scan shared by Reclassify and DryRunRules. `filing` null: dry run.
  Status Scan(const Snapshot& rules, ApprovalFiling* filing, bool keep_sample,
              const std::function<void(int64_t, int64_t)>& progress, ReclassifyReport& report);
  // Tags the rules give one stored customer with its business totals.
  Result<rules::Tags> Classify(const rules::RuleSet& rules, const store::ClassificationRow& row,
                               const store::BusinessTotals& totals) const;
  // The catalog key of the credit rating field ("" when there is none).
  std::string CreditRatingKey() const;
  // Whether `role` reads `metric` of a customer in plaintext: the credit
  // rating by its field class and mask, the business sums by business.read.
  bool RoleReadsMetricInPlaintext(policy::Role role, std::string_view metric) const;
  Status Audit(const Actor& actor, std::string_view operation, std::string_view customer_id,
               std::string_view result, boost::json::object details);
  Result<ApplyOutcome> ApplyTagItems(const Actor& approver, const ApprovalRecord& approval,
                                     ChosenItems& chosen);
  Result<ApplyOutcome> ActivateRules(const Actor& approver, const ApprovalRecord& approval);
  // A rules_change approval's details: {"version", "active_version",
  // "diff": [lines], "impact": {counts at filing, small groups suppressed}}.
  Result<boost::json::object> DescribeRulesChange(const ApprovalRecord& approval);

  Env* env_;
  const Config& config_;
  const catalog::Catalog& catalog_;
  const crypto::Keyring& keyring_;
  store::Store& store_;
  store::TagStore& tags_;
  store::BusinessStore& business_;
  ApprovalService& approvals_;
  AccountService& accounts_;
  AuditRecorder& audit_;
  const catalog::FieldDef* credit_rating_field_;  // null when the catalog has none
  std::unique_ptr<TagChangesHandler> tag_handler_;
  std::unique_ptr<RulesChangeHandler> rules_handler_;

  mutable std::mutex mutex_;
  // shared_ptr: a run keeps the rule set it started with while an approval
  // swaps in a new one.
  Snapshot current_;  // guarded by mutex_
};

// The one-line description of a tag change: "risk: low -> high; value_tier: (none) -> medium".
std::string DescribeTagChange(const rules::Tags& from, const rules::Tags& to);

}  // namespace custvault::service
