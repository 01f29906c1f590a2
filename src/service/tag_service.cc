#include "service/tag_service.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <future>
#include <set>
#include <tuple>

#include "audit/entry.h"
#include "common/log.h"
#include "store/cursor.h"

namespace custvault::service {
namespace json = boost::json;
namespace {

using policy::ApprovalKind;

constexpr int64_t kMicrosPerDay = 86'400'000'000;
constexpr char kCreditRatingRule[] = "credit_rating";
constexpr char kInitialRulesAuthor[] = "system";
constexpr size_t kTagValueBytesMax = 32;  // rules::RuleSet::kNameBytesMax

bool IsBlank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

bool ValidTagValue(const std::string& value) {
  if (value.empty() || value.size() > kTagValueBytesMax) return false;
  for (char c : value) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

void AppendTagsJson(const rules::Tags& tags, std::string* out);

// An item's payload: {"from":{dimension:value},"to":{dimension:value}}
// (built by hand: a re-classification writes a million of them).
std::string TagItemPayload(const rules::Tags& from, const rules::Tags& to) {
  std::string out = "{\"from\":";
  AppendTagsJson(from, &out);
  out += ",\"to\":";
  AppendTagsJson(to, &out);
  out += "}";
  return out;
}

Result<rules::Tags> TagsOf(const json::value* value) {
  rules::Tags tags;
  if (value == nullptr || !value->is_object()) return DataLoss("tag change payload is malformed");
  for (const auto& [dimension, v] : value->as_object()) {
    if (!v.is_string()) return DataLoss("tag change payload is malformed");
    tags[std::string(dimension)] = std::string(v.as_string());
  }
  return tags;
}

Result<store::TagChange> DecodeTagItem(const ApprovalItemRecord& item) {
  boost::system::error_code error;
  const json::value parsed = json::parse(item.payload, error);
  if (error || !parsed.is_object()) return DataLoss("tag change payload is malformed");
  store::TagChange change;
  change.customer_id = item.customer_id;
  ASSIGN_OR_RETURN(change.expected, TagsOf(parsed.as_object().if_contains("from")));
  ASSIGN_OR_RETURN(change.target, TagsOf(parsed.as_object().if_contains("to")));
  return change;
}

using TagPairs = std::vector<std::pair<std::string, std::string>>;

TagPairs PairsOf(const std::map<std::string, std::string>& tags) {
  return TagPairs(tags.begin(), tags.end());
}

// The dimensions whose value differs: (from, to) restricted to them.
std::pair<rules::Tags, rules::Tags> Difference(const TagPairs& current, const rules::Tags& wanted) {
  rules::Tags from;
  rules::Tags to;
  for (const auto& [dimension, value] : wanted) {
    const auto have = std::find_if(current.begin(), current.end(),
                                   [&](const auto& tag) { return tag.first == dimension; });
    if (have != current.end() && have->second == value) continue;
    if (have != current.end()) from[dimension] = have->second;
    to[dimension] = value;
  }
  return {std::move(from), std::move(to)};
}

// JSON string of a tag dimension or value (rules restrict them to
// [a-z0-9_], but stored tags are escaped all the same).
void AppendJsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out->append(escaped);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

void AppendTagsJson(const rules::Tags& tags, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [dimension, value] : tags) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(dimension, out);
    out->push_back(':');
    AppendJsonString(value, out);
  }
  out->push_back('}');
}

// The stored form of a customer for classification, from a full record.
store::ClassificationRow RowOf(const store::CustomerRecord& record, const std::string& field_key) {
  store::ClassificationRow row;
  row.id = record.id;
  row.kek_version = record.kek_version;
  row.wrapped_key = record.wrapped_key;
  if (const auto found = record.fields.find(field_key); found != record.fields.end()) {
    row.field = found->second;
  }
  row.tags = PairsOf(record.tags);
  return row;
}

RulesVersionView ToRulesView(const store::RulesVersionRecord& r) {
  RulesVersionView v;
  v.version = r.version;
  v.status = r.status;
  v.text = r.text;
  v.created_by = r.created_by;
  v.created_at_us = r.created_at_us;
  v.approval_id = r.approval_id;
  v.activated_at_us = r.activated_at_us;
  return v;
}

}  // namespace

std::string DescribeTagChange(const rules::Tags& from, const rules::Tags& to) {
  std::string out;
  for (const auto& [dimension, value] : to) {
    if (!out.empty()) out += "; ";
    const auto before = from.find(dimension);
    out += dimension + ": " + (before == from.end() ? std::string("(none)") : before->second) +
           " -> " + value;
  }
  return out;
}

// ---------------------------------------------------------------- handlers

class TagService::TagChangesHandler final : public ApprovalHandler {
 public:
  explicit TagChangesHandler(TagService& service) : service_(service) {}
  Result<ApplyOutcome> Apply(const Actor& approver, const ApprovalRecord& approval,
                             const std::vector<ApprovalItemRecord>& chosen) override {
    // All items at once (a caller that already holds them).
    class OnePage final : public ChosenItems {
     public:
      explicit OnePage(const std::vector<ApprovalItemRecord>& items) : items_(items) {}
      Result<bool> NextPage(std::vector<ApprovalItemRecord>* page) override {
        *page = items_;
        return false;
      }

     private:
      const std::vector<ApprovalItemRecord>& items_;
    };
    OnePage pages(chosen);
    return service_.ApplyTagItems(approver, approval, pages);
  }
  // Page by page in one transaction: a batch of a million items never sits
  // in memory at once.
  Result<ApplyOutcome> ApplyItems(const Actor& approver, const ApprovalRecord& approval,
                                  ChosenItems& chosen) override {
    return service_.ApplyTagItems(approver, approval, chosen);
  }

 private:
  TagService& service_;
};

class TagService::RulesChangeHandler final : public ApprovalHandler {
 public:
  explicit RulesChangeHandler(TagService& service) : service_(service) {}
  Result<ApplyOutcome> Apply(const Actor& approver, const ApprovalRecord& approval,
                             const std::vector<ApprovalItemRecord>&) override {
    return service_.ActivateRules(approver, approval);
  }
  Result<json::object> Describe(const ApprovalRecord& approval) override {
    return service_.DescribeRulesChange(approval);
  }

 private:
  TagService& service_;
};

// ---------------------------------------------------------------- service

TagService::TagService(Env* env, const Config& config, const catalog::Catalog& catalog,
                       const crypto::Keyring& keyring, store::Store& store,
                       store::TagStore& tags, store::BusinessStore& business,
                       ApprovalService& approvals, AccountService& accounts, AuditRecorder& audit)
    : env_(env),
      config_(config),
      catalog_(catalog),
      keyring_(keyring),
      store_(store),
      tags_(tags),
      business_(business),
      approvals_(approvals),
      accounts_(accounts),
      audit_(audit),
      credit_rating_field_(nullptr) {
  for (const catalog::FieldDef& field : catalog_.fields()) {
    if (field.rule == kCreditRatingRule) {
      credit_rating_field_ = &field;
      break;
    }
  }
}

TagService::~TagService() = default;

Result<std::unique_ptr<TagService>> TagService::Open(
    Env* env, const Config& config, const catalog::Catalog& catalog,
    const crypto::Keyring& keyring, store::Store& store, store::TagStore& tags,
    store::BusinessStore& business, ApprovalService& approvals, AccountService& accounts,
    AuditRecorder& audit) {
  std::unique_ptr<TagService> service(new TagService(env, config, catalog, keyring, store, tags,
                                                     business, approvals, accounts, audit));
  Result<store::RulesVersionRecord> active = tags.ActiveRulesVersion();
  if (!active.ok() && active.status().code() != ErrorCode::kNotFound) return active.status();
  if (!active.ok()) {
    // First open: version 1 from the configured file, else the built-in rules.
    std::string text(rules::DefaultRulesToml());
    if (!config.tags.initial_rules_file.empty()) {
      ASSIGN_OR_RETURN(text, env->ReadFile(config.DataPath(config.tags.initial_rules_file)));
    }
    Result<rules::RuleSet> parsed = rules::RuleSet::Parse(text);
    if (!parsed.ok()) {
      return InvalidArgument("tags.initial_rules_file: " + parsed.status().message());
    }
    const int64_t now = env->NowMicros();
    Status seeded = tags.InsertRulesVersion(
        {1, text, store::kRulesActive, kInitialRulesAuthor, now, "", now});
    // Another process seeded it first: its version 1 stands.
    if (!seeded.ok() && seeded.code() != ErrorCode::kConflict) return seeded;
  }
  RETURN_IF_ERROR(service->LoadActive());
  service->tag_handler_ = std::make_unique<TagChangesHandler>(*service);
  service->rules_handler_ = std::make_unique<RulesChangeHandler>(*service);
  approvals.RegisterHandler(ApprovalKind::kTagBatch, service->tag_handler_.get());
  approvals.RegisterHandler(ApprovalKind::kTagChange, service->tag_handler_.get());
  approvals.RegisterHandler(ApprovalKind::kRulesChange, service->rules_handler_.get());
  return service;
}

Status TagService::LoadActive() {
  ASSIGN_OR_RETURN(const store::RulesVersionRecord active, tags_.ActiveRulesVersion());
  Result<rules::RuleSet> parsed = rules::RuleSet::Parse(active.text);
  if (!parsed.ok()) {
    return DataLoss("active rules version " + std::to_string(active.version) +
                    " does not parse: " + parsed.status().message());
  }
  auto rule_set = std::make_shared<const rules::RuleSet>(std::move(*parsed));
  std::lock_guard<std::mutex> lock(mutex_);
  current_ = {active.version, std::move(rule_set)};
  return Status::Ok();
}

TagService::Snapshot TagService::Current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

int64_t TagService::active_version() const { return Current().version; }

Status TagService::Audit(const Actor& actor, std::string_view operation,
                         std::string_view customer_id, std::string_view result,
                         boost::json::object details) {
  Result<int64_t> seq = audit_.Record(actor, operation, customer_id, result, std::move(details));
  if (!seq.ok()) return Unavailable("the audit log could not record the operation; try again");
  return Status::Ok();
}

rules::Tags TagService::InitialTags(const std::map<std::string, std::string>& values) const {
  const Snapshot rules = Current();
  rules::CustomerMetrics metrics;  // no business records yet: zeros
  if (credit_rating_field_ != nullptr) {
    const auto rating = values.find(credit_rating_field_->key);
    if (rating != values.end()) metrics.credit_rating = rating->second;
  }
  rules::Tags tags = rules.rules->Classify(metrics);
  if (!metrics.credit_rating.empty()) {
    OPENSSL_cleanse(metrics.credit_rating.data(), metrics.credit_rating.size());
  }
  return tags;
}

Result<rules::Tags> TagService::Classify(const rules::RuleSet& rules,
                                         const store::ClassificationRow& row,
                                         const store::BusinessTotals& totals) const {
  rules::CustomerMetrics metrics;
  metrics.spend_fen = totals.spend_fen;
  metrics.order_count = totals.order_count;
  metrics.complaints_open = totals.complaints_open;
  metrics.complaints_total = totals.complaints_total;
  if (credit_rating_field_ != nullptr && row.field) {
    if (credit_rating_field_->protection == catalog::Protection::kPlain) {
      metrics.credit_rating = *row.field;
    } else {
      // One key unwrap and one field decryption: nothing else is opened.
      ASSIGN_OR_RETURN(const crypto::SecretBytes key,
                       keyring_.UnwrapCustomerKey(row.id, row.kek_version, row.wrapped_key));
      ASSIGN_OR_RETURN(const crypto::SecretBytes plain,
                       keyring_.DecryptField(key, row.id, credit_rating_field_->key, *row.field));
      metrics.credit_rating = std::string(plain.view());
    }
  }
  rules::Tags tags = rules.Classify(metrics);
  if (!metrics.credit_rating.empty()) {
    OPENSSL_cleanse(metrics.credit_rating.data(), metrics.credit_rating.size());
  }
  return tags;
}

std::string TagService::CreditRatingKey() const {
  return credit_rating_field_ == nullptr ? std::string() : credit_rating_field_->key;
}

Status TagService::Scan(const Snapshot& rules, ApprovalFiling* filing, bool keep_sample,
                        const std::function<void(int64_t, int64_t)>& progress,
                        ReclassifyReport& report) {
  const int batch_size =
      std::clamp(config_.tags.reclassify_batch_size, 1,
                 static_cast<int>(store::kApprovalItemsPerWriteMax));
  ASSIGN_OR_RETURN(const int64_t total, store_.CountCustomers());
  const int64_t since_us = env_->NowMicros() - int64_t{rules.rules->window_days()} * kMicrosPerDay;
  const std::string field_key = CreditRatingKey();
  // One batch: the customers and their business totals. The next batch is
  // read on another thread while this one is classified and filed, so the
  // SQLite reads and the decryption overlap; at most two batches are in
  // memory at once.
  struct Batch {
    std::vector<store::ClassificationRow> rows;
    store::BusinessTotalsById totals;
  };
  auto fetch = [this, batch_size, since_us, &field_key](std::string after) -> Result<Batch> {
    Batch batch;
    ASSIGN_OR_RETURN(batch.rows, tags_.ScanForClassification(after, batch_size, field_key));
    if (!batch.rows.empty()) {
      ASSIGN_OR_RETURN(batch.totals, business_.TotalsForIdRange(batch.rows.front().id,
                                                                batch.rows.back().id, since_us));
    }
    return batch;
  };
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> transitions;
  // The items of the previous batch are written while this one is
  // classified (one write at a time: the filing is not thread-safe).
  std::future<Status> writing;
  auto wait_for_write = [&writing]() -> Status {
    if (!writing.valid()) return Status::Ok();
    return writing.get();
  };
  std::future<Result<Batch>> next = std::async(std::launch::async, fetch, std::string());
  while (true) {
    Result<Batch> batch = next.get();
    if (!batch.ok()) return batch.status();
    if (batch->rows.empty()) break;
    const bool more = static_cast<int>(batch->rows.size()) == batch_size;
    if (more) next = std::async(std::launch::async, fetch, batch->rows.back().id);
    std::vector<NewApprovalItem> items;
    for (const store::ClassificationRow& row : batch->rows) {
      ++report.customers_scanned;
      const auto found = batch->totals.find(row.id);
      Result<rules::Tags> wanted =
          Classify(*rules.rules, row,
                   found == batch->totals.end() ? store::BusinessTotals{} : found->second);
      if (!wanted.ok()) {
        ++report.customers_failed;
        spdlog::warn("re-classification: customer {} left out: {}", row.id,
                     wanted.status().ToString());
        continue;
      }
      auto [from, to] = Difference(row.tags, *wanted);
      if (to.empty()) continue;
      ++report.customers_changed;
      for (const auto& [dimension, value] : to) {
        const auto before = from.find(dimension);
        ++transitions[{dimension, before == from.end() ? std::string() : before->second, value}];
      }
      if (filing != nullptr) {
        items.push_back({row.id, DescribeTagChange(from, to), TagItemPayload(from, to)});
      }
      if (keep_sample && report.sample.size() < kReclassifySampleMax) {
        report.sample.push_back({row.id, std::move(from), std::move(to)});
      }
    }
    RETURN_IF_ERROR(wait_for_write());
    if (filing != nullptr && !items.empty()) {
      writing = std::async(std::launch::async, [filing, items = std::move(items)] {
        return filing->AddItems(items);
      });
    }
    if (progress) progress(report.customers_scanned, total);
    if (!more) break;
  }
  RETURN_IF_ERROR(wait_for_write());
  for (const auto& [key, count] : transitions) {
    report.transitions.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key), count});
  }
  return Status::Ok();
}

Result<ReclassifyReport> TagService::Reclassify(const Actor& actor,
                                                const ReclassifyOptions& options) {
  if (!ApprovalService::IsJobActor(actor)) {
    RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kTagReclassify));
  }
  const int64_t started = env_->NowMicros();
  const Snapshot rules = Current();
  ReclassifyReport report;
  report.dry_run = options.dry_run;
  report.rules_version = rules.version;
  std::unique_ptr<ApprovalFiling> filing;
  if (!options.dry_run) {
    ASSIGN_OR_RETURN(filing,
                     approvals_.BeginFiling(actor, ApprovalKind::kTagBatch, "",
                                            json::serialize(json::object{
                                                {"rules_version", rules.version}})));
  }
  RETURN_IF_ERROR(Scan(rules, filing.get(), /*keep_sample=*/true, options.progress, report));
  if (filing && report.customers_changed > 0) {
    ASSIGN_OR_RETURN(report.approval,
                     filing->Finish("re-classification by rules v" +
                                    std::to_string(rules.version) + ": " +
                                    std::to_string(report.customers_changed) + " of " +
                                    std::to_string(report.customers_scanned) +
                                    " customers change tags"));
  }
  report.elapsed_us = env_->NowMicros() - started;
  json::object details{{"dry_run", options.dry_run},
                       {"rules_version", rules.version},
                       {"count", report.customers_scanned},
                       {"changed", report.customers_changed},
                       {"failed", report.customers_failed}};
  if (report.approval) details["approval_id"] = report.approval->id;
  RETURN_IF_ERROR(
      Audit(actor, audit::op::kTagReclassify, "", audit::result::kOk, std::move(details)));
  return report;
}

Result<ApprovalView> TagService::RequestTagChange(const Actor& actor,
                                                  const std::string& customer_id,
                                                  const std::string& dimension,
                                                  const std::string& value,
                                                  const std::string& reason) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kTagRequest, customer_id));
  const Snapshot rules = Current();
  std::vector<FieldError> errors;
  const std::vector<std::string>& dimensions = rules.rules->dimensions();
  if (std::find(dimensions.begin(), dimensions.end(), dimension) == dimensions.end()) {
    errors.push_back({"dimension", "unknown_dimension"});
  }
  if (!ValidTagValue(value)) errors.push_back({"value", "format"});
  if (IsBlank(reason)) errors.push_back({"reason", "required"});
  if (reason.size() > kTagReasonBytesMax) errors.push_back({"reason", "too_long"});
  if (!errors.empty()) {
    return Status(ErrorCode::kValidationFailed, "the tag change is not valid", std::move(errors));
  }
  if (customer_id.empty() || customer_id.size() > store::kCustomerIdBytesMax) {
    return NotFound("no such customer");
  }
  ASSIGN_OR_RETURN(const store::CustomerRecord record, store_.GetCustomer(customer_id));
  auto [from, to] = Difference(PairsOf(record.tags), {{dimension, value}});
  if (to.empty()) return Conflict("the customer already has this tag value");
  const std::string change = DescribeTagChange(from, to);
  NewApproval request;
  request.kind = ApprovalKind::kTagChange;
  request.subject = customer_id;
  request.summary = TruncateUtf8(
      "tag change for " + customer_id + ": " + change + " (reason: " + reason + ")",
      store::kApprovalSummaryBytesMax);
  request.payload = json::serialize(json::object{{"reason", reason}});
  request.items.push_back({customer_id, change, TagItemPayload(from, to)});
  return approvals_.Submit(actor, request);
}

Result<std::optional<ApprovalView>> TagService::RecomputeCustomer(const std::string& customer_id) {
  if (customer_id.empty() || customer_id.size() > store::kCustomerIdBytesMax) {
    return NotFound("no such customer");
  }
  const Snapshot rules = Current();
  ASSIGN_OR_RETURN(const store::CustomerRecord record, store_.GetCustomer(customer_id));
  const int64_t since_us = env_->NowMicros() - int64_t{rules.rules->window_days()} * kMicrosPerDay;
  ASSIGN_OR_RETURN(const store::BusinessTotals totals, business_.TotalsFor(customer_id, since_us));
  const store::ClassificationRow row = RowOf(record, CreditRatingKey());
  ASSIGN_OR_RETURN(const rules::Tags wanted, Classify(*rules.rules, row, totals));
  auto [from, to] = Difference(row.tags, wanted);
  if (to.empty()) return std::optional<ApprovalView>();
  // The same change already waiting for a decision is not filed twice.
  const std::string payload = TagItemPayload(from, to);
  ASSIGN_OR_RETURN(const std::vector<ApprovalItemRecord> pending,
                   approvals_.PendingItemsAbout(ApprovalKind::kTagChange, customer_id));
  for (const ApprovalItemRecord& item : pending) {
    if (item.payload == payload) return std::optional<ApprovalView>();
  }
  const std::string change = DescribeTagChange(from, to);
  NewApproval request;
  request.kind = ApprovalKind::kTagChange;
  request.subject = customer_id;
  request.summary = "recomputed tags for " + customer_id + " after its data changed: " + change;
  request.payload = json::serialize(json::object{{"rules_version", rules.version}});
  request.items.push_back({customer_id, change, payload});
  ASSIGN_OR_RETURN(ApprovalView filed,
                   approvals_.Submit(ApprovalService::JobActor("recompute"), request));
  return std::optional<ApprovalView>(std::move(filed));
}

Result<ApplyOutcome> TagService::ApplyTagItems(const Actor& approver,
                                               const ApprovalRecord& approval,
                                               ChosenItems& chosen) {
  ApplyOutcome outcome;
  int64_t applied = 0;
  int64_t stale = 0;
  int64_t missing = 0;
  std::string first_summary;
  std::vector<ApprovalItemRecord> items;  // the current page
  // One transaction for every chosen customer, all or nothing, read and
  // applied a page at a time.
  RETURN_IF_ERROR(tags_.ApplyTagChangesStreamed(
      [&](std::vector<store::TagChange>* page) -> Result<bool> {
        ASSIGN_OR_RETURN(const bool more, chosen.NextPage(&items));
        page->reserve(items.size());
        for (const ApprovalItemRecord& item : items) {
          ASSIGN_OR_RETURN(store::TagChange change, DecodeTagItem(item));
          page->push_back(std::move(change));
        }
        if (first_summary.empty() && !items.empty()) first_summary = items.front().summary;
        return more;
      },
      [&](size_t index, store::TagChangeOutcome result) -> Status {
        switch (result) {
          case store::TagChangeOutcome::kApplied:
          case store::TagChangeOutcome::kAlreadyApplied:
            ++applied;
            return Status::Ok();
          case store::TagChangeOutcome::kStale:
            ++stale;
            break;
          case store::TagChangeOutcome::kMissing:
            ++missing;
            break;
        }
        outcome.skipped_seqs.push_back(items[index].seq);
        return Status::Ok();
      },
      env_->NowMicros()));
  const bool single = approval.kind == policy::ApprovalKindName(ApprovalKind::kTagChange);
  if (single && applied == 0 && (stale > 0 || missing > 0)) {
    // Nothing was written: a clean refusal the approval records.
    if (missing > 0) return NotFound("customer_deleted");
    return Conflict("stale: the customer's tags changed since the request");
  }
  outcome.outcome = "applied " + std::to_string(applied);
  if (stale > 0) outcome.outcome += ", skipped " + std::to_string(stale) + " stale";
  if (missing > 0) outcome.outcome += ", skipped " + std::to_string(missing) + " deleted";
  json::object details{{"approval_id", approval.id},
                       {"kind", approval.kind},
                       {"count", applied},
                       {"stale", stale},
                       {"missing", missing}};
  if (single && !first_summary.empty()) details["change"] = first_summary;
  RETURN_IF_ERROR(Audit(approver, audit::op::kTagApply, single ? approval.subject : "",
                        audit::result::kOk, std::move(details)));
  return outcome;
}

namespace {

// A rules_change payload: {"version": N, "impact": {...}}, or (filed
// before issue 11.9) the bare version number.
Result<int64_t> RulesChangeVersion(const std::string& payload) {
  int64_t version = 0;
  if (!payload.empty() && payload.front() == '{') {
    json::error_code error;
    const json::value parsed = json::parse(payload, error);
    const json::value* v = error || !parsed.is_object() ? nullptr : parsed.as_object().if_contains("version");
    if (v == nullptr || !v->is_int64() || v->as_int64() < 1) {
      return DataLoss("rules_change payload has no version number");
    }
    return v->as_int64();
  }
  try {
    size_t used = 0;
    version = std::stoll(payload, &used);
    if (used != payload.size() || version < 1) throw std::invalid_argument("version");
  } catch (...) {
    return DataLoss("rules_change payload is not a version number");
  }
  return version;
}

json::object ImpactJson(const ReclassifyReport& report) {
  const auto count = [](int64_t n, bool suppressed) -> json::value {
    if (suppressed) return json::string("<" + std::to_string(kDryRunGroupMin));
    return json::value(n);
  };
  json::array transitions;
  for (const TagTransitionCount& t : report.transitions) {
    transitions.push_back(json::object{
        {"dimension", t.dimension},
        {"from", t.from.empty() ? json::value(nullptr) : json::value(t.from)},
        {"to", t.to},
        {"customers", count(t.customers, t.suppressed)}});
  }
  return json::object{{"customers_scanned", report.customers_scanned},
                      {"customers_changed",
                       count(report.customers_changed, report.customers_changed_suppressed)},
                      {"customers_failed", report.customers_failed},
                      {"transitions", std::move(transitions)}};
}

}  // namespace

// A line diff of two texts: "  " same, "- " only in `before`, "+ " only
// in `after`. The common head and tail are cut to kRulesDiffContextLines;
// the middle is matched by longest common subsequence when both sides
// have at most kRulesDiffMatchLinesMax lines (else shown as replaced), and
// the output holds at most kRulesDiffLinesMax lines.
std::vector<std::string> RulesDiff(std::string_view before, std::string_view after) {
  const auto lines_of = [](std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
      const size_t end = text.find('\n');
      lines.push_back(text.substr(0, end));
      if (end == std::string_view::npos) break;
      text.remove_prefix(end + 1);
    }
    return lines;
  };
  const std::vector<std::string_view> a = lines_of(before);
  const std::vector<std::string_view> b = lines_of(after);
  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) {
    ++tail;
  }
  std::vector<std::string> out;
  bool cut = false;
  const auto emit = [&out, &cut](std::string_view prefix, std::string_view line) {
    if (out.size() < kRulesDiffLinesMax) {
      out.push_back(std::string(prefix) + std::string(line));
    } else {
      cut = true;
    }
  };
  for (size_t i = head > kRulesDiffContextLines ? head - kRulesDiffContextLines : 0; i < head; ++i) {
    emit("  ", a[i]);
  }
  const size_t n = a.size() - head - tail;
  const size_t m = b.size() - head - tail;
  if (n <= kRulesDiffMatchLinesMax && m <= kRulesDiffMatchLinesMax) {
    // lcs[i][j]: the longest common subsequence of a[head+i..] and b[head+j..].
    std::vector<std::vector<uint16_t>> lcs(n + 1, std::vector<uint16_t>(m + 1, 0));
    for (size_t i = n; i-- > 0;) {
      for (size_t j = m; j-- > 0;) {
        lcs[i][j] = a[head + i] == b[head + j]
                        ? static_cast<uint16_t>(lcs[i + 1][j + 1] + 1)
                        : std::max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[head + i] == b[head + j]) {
        emit("  ", a[head + i]);
        ++i;
        ++j;
      } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
        emit("- ", a[head + i++]);  // removals before additions, as diff shows them
      } else {
        emit("+ ", b[head + j++]);
      }
    }
  } else {
    for (size_t i = 0; i < n; ++i) emit("- ", a[head + i]);
    for (size_t j = 0; j < m; ++j) emit("+ ", b[head + j]);
  }
  for (size_t i = 0; i < std::min(tail, kRulesDiffContextLines); ++i) {
    emit("  ", a[a.size() - tail + i]);
  }
  if (cut) out.back() = "... (diff cut at " + std::to_string(kRulesDiffLinesMax) + " lines)";
  return out;
}

Result<json::object> TagService::DescribeRulesChange(const ApprovalRecord& approval) {
  ASSIGN_OR_RETURN(const int64_t version, RulesChangeVersion(approval.payload));
  ASSIGN_OR_RETURN(const store::RulesVersionRecord proposed, tags_.GetRulesVersion(version));
  ASSIGN_OR_RETURN(const store::RulesVersionRecord active, tags_.ActiveRulesVersion());
  json::object out{{"version", version}, {"active_version", active.version}};
  // Against the version active now: what approving would change.
  json::array diff;
  for (std::string& line : RulesDiff(active.text, proposed.text)) diff.push_back(json::string(line));
  out["diff"] = std::move(diff);
  out["impact"] = nullptr;
  if (!approval.payload.empty() && approval.payload.front() == '{') {
    json::error_code error;
    json::value parsed = json::parse(approval.payload, error);
    if (!error && parsed.is_object()) {
      if (json::value* impact = parsed.as_object().if_contains("impact")) {
        out["impact"] = std::move(*impact);
      }
    }
  }
  return out;
}

Result<ApplyOutcome> TagService::ActivateRules(const Actor& approver,
                                               const ApprovalRecord& approval) {
  ASSIGN_OR_RETURN(const int64_t version, RulesChangeVersion(approval.payload));
  ASSIGN_OR_RETURN(const store::RulesVersionRecord proposed, tags_.GetRulesVersion(version));
  ASSIGN_OR_RETURN(const store::RulesVersionRecord active, tags_.ActiveRulesVersion());
  if (active.version > version) {
    return Conflict("a newer rules version (" + std::to_string(active.version) + ") is active");
  }
  if (!rules::RuleSet::Parse(proposed.text).ok()) {
    return Conflict("the proposed rules no longer parse");
  }
  RETURN_IF_ERROR(tags_.ActivateRulesVersion(version, env_->NowMicros()));
  RETURN_IF_ERROR(LoadActive());
  RETURN_IF_ERROR(Audit(approver, audit::op::kRulesChange, "", audit::result::kOk,
                        {{"version", version},
                         {"activated", true},
                         {"approval_id", approval.id},
                         {"previous_version", active.version}}));
  ApplyOutcome outcome;
  outcome.outcome = "rules v" + std::to_string(version) + " active";
  return outcome;
}

Result<RulesOverview> TagService::GetRules(const Actor& actor) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kRulesRead));
  ASSIGN_OR_RETURN(const std::vector<store::RulesVersionRecord> versions,
                   tags_.ListRulesVersions(kRulesVersionsListed));
  RulesOverview overview;
  for (const store::RulesVersionRecord& r : versions) {
    RulesVersionView view = ToRulesView(r);
    if (!r.approval_id.empty()) {
      Result<ApprovalRecord> approval = approvals_.GetRecord(r.approval_id);
      if (approval.ok()) view.approval_status = approval->status;
    }
    if (r.status == store::kRulesActive) overview.active = view;
    overview.versions.push_back(std::move(view));
  }
  return overview;
}

Result<ProposedRules> TagService::ProposeRules(const Actor& actor, const std::string& text) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kRulesChange));
  // A refused proposal is audited like an accepted one (issue 11.1), with
  // why but never the text.
  auto refuse = [&](Status refusal, std::string_view reason) -> Status {
    RETURN_IF_ERROR(Audit(actor, audit::op::kRulesChange, "", audit::result::kInvalid,
                          {{"activated", false},
                           {"outcome", "refused"},
                           {"reason", reason},
                           {"bytes", text.size()}}));
    return refusal;
  };
  if (text.size() > store::kRulesTextBytesMax) {
    return refuse(TooLarge("the rules text is over " + std::to_string(store::kRulesTextBytesMax) +
                           " bytes"),
                  "too_large");
  }
  Result<rules::RuleSet> parsed = rules::RuleSet::Parse(text);
  if (!parsed.ok()) {
    return refuse(Status(ErrorCode::kValidationFailed,
                         "the rules text is not valid: " + parsed.status().message(),
                         {{"text", "invalid_rules"}}),
                  "invalid_rules");
  }
  // The dry-run impact, before the lock: a scan of every customer.
  ReclassifyReport impact;
  impact.dry_run = true;
  RETURN_IF_ERROR(Scan(Snapshot{0, std::make_shared<const rules::RuleSet>(*parsed)}, nullptr,
                       /*keep_sample=*/false, nullptr, impact));
  SuppressSmallGroups(impact);
  // One proposal at a time in this process: the version number and its
  // approval are made together.
  static std::mutex propose_mutex;
  std::lock_guard<std::mutex> lock(propose_mutex);
  ASSIGN_OR_RETURN(const std::vector<store::RulesVersionRecord> newest,
                   tags_.ListRulesVersions(1));
  const int64_t version = newest.empty() ? 1 : newest.front().version + 1;
  NewApproval request;
  request.kind = ApprovalKind::kRulesChange;
  request.subject = "rules:v" + std::to_string(version);
  request.summary = "tag rules version " + std::to_string(version) + " (" +
                    std::to_string(parsed->dimensions().size()) + " dimensions, window " +
                    std::to_string(parsed->window_days()) + " days): " +
                    (impact.customers_changed_suppressed
                         ? "fewer than " + std::to_string(kDryRunGroupMin)
                         : std::to_string(impact.customers_changed)) +
                    " of " + std::to_string(impact.customers_scanned) +
                    " customers would change tags";
  // Issue 11.9: the approver sees what changes: the impact computed now
  // (shown with the approval, small groups suppressed) and the diff
  // against the active text (computed when shown).
  request.payload = json::serialize(json::object{
      {"version", version}, {"impact", ImpactJson(impact)}});
  ASSIGN_OR_RETURN(ApprovalView approval, approvals_.Submit(actor, request));
  store::RulesVersionRecord record{version, text, store::kRulesProposed, actor.id,
                                   env_->NowMicros(), approval.id, 0};
  RETURN_IF_ERROR(tags_.InsertRulesVersion(record));
  RETURN_IF_ERROR(Audit(actor, audit::op::kRulesChange, "", audit::result::kOk,
                        {{"version", version}, {"activated", false}, {"approval_id", approval.id}}));
  ProposedRules proposed;
  proposed.version = ToRulesView(record);
  proposed.version.approval_status = approval.status;
  proposed.approval = std::move(approval);
  return proposed;
}

bool TagService::RoleReadsMetricInPlaintext(policy::Role role, std::string_view metric) const {
  if (metric == "credit_rating") {
    if (credit_rating_field_ == nullptr) return false;
    const policy::FieldRead read = policy::ReadAccess(role, credit_rating_field_->field_class);
    return read == policy::FieldRead::kReveal ||
           (read == policy::FieldRead::kMasked && credit_rating_field_->mask == "none");
  }
  // The others are sums of business records, which business.read shows.
  return policy::Allows(role, policy::Operation::kBusinessRead);
}

void SuppressSmallGroups(ReclassifyReport& report) {
  report.small_groups_suppressed = true;
  for (TagTransitionCount& t : report.transitions) {
    if (t.customers < kDryRunGroupMin) {
      t.customers = 0;
      t.suppressed = true;
    }
  }
  if (report.customers_changed < kDryRunGroupMin) {
    report.customers_changed = 0;
    report.customers_changed_suppressed = true;
  }
}

Result<ReclassifyReport> TagService::DryRunRules(const Actor& actor, const std::string& text) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kRulesRead));
  // A refused dry run is audited like an accepted one (issue 11.1), with
  // why but never the text.
  auto refuse = [&](Status refusal, std::string_view reason,
                    json::array metrics = {}) -> Status {
    json::object details{{"dry_run", true},
                         {"rules_version", "proposed"},
                         {"outcome", "refused"},
                         {"reason", reason},
                         {"bytes", text.size()}};
    if (!metrics.empty()) details["metrics"] = std::move(metrics);
    RETURN_IF_ERROR(Audit(actor, audit::op::kTagReclassify, "",
                          refusal.code() == ErrorCode::kPermissionDenied ? audit::result::kDenied
                                                                         : audit::result::kInvalid,
                          std::move(details)));
    return refusal;
  };
  if (text.size() > store::kRulesTextBytesMax) {
    return refuse(TooLarge("the rules text is over " + std::to_string(store::kRulesTextBytesMax) +
                           " bytes"),
                  "too_large");
  }
  Result<rules::RuleSet> parsed = rules::RuleSet::Parse(text);
  if (!parsed.ok()) {
    return refuse(Status(ErrorCode::kValidationFailed,
                         "the rules text is not valid: " + parsed.status().message(),
                         {{"text", "invalid_rules"}}),
                  "invalid_rules");
  }
  // Issue 11.2: a condition on a metric the caller cannot read in
  // plaintext would let counts reveal it (spend_fen == X and credit_rating
  // == "CCC"); a dry run may use only metrics the role reads in plaintext.
  json::array metrics;
  std::string hidden;
  for (std::string_view metric : parsed->MetricsUsed()) {
    metrics.push_back(json::string(metric));
    if (!RoleReadsMetricInPlaintext(actor.role, metric)) {
      hidden += (hidden.empty() ? "" : ", ") + std::string(metric);
    }
  }
  if (!hidden.empty()) {
    return refuse(PermissionDenied("a dry run may use only metrics your role reads in plaintext; "
                                   "not: " + hidden),
                  "hidden_metric", std::move(metrics));
  }
  const int64_t started = env_->NowMicros();
  Snapshot proposed{0, std::make_shared<const rules::RuleSet>(std::move(*parsed))};
  ReclassifyReport report;
  report.dry_run = true;
  RETURN_IF_ERROR(Scan(proposed, nullptr, /*keep_sample=*/false, nullptr, report));
  // Counts only, and no group smaller than kDryRunGroupMin.
  SuppressSmallGroups(report);
  report.elapsed_us = env_->NowMicros() - started;
  RETURN_IF_ERROR(Audit(actor, audit::op::kTagReclassify, "", audit::result::kOk,
                        {{"dry_run", true},
                         {"rules_version", "proposed"},
                         {"metrics", std::move(metrics)},
                         {"count", report.customers_scanned},
                         {"changed", report.customers_changed}}));
  return report;
}

}  // namespace custvault::service
