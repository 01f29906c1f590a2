// TagStore: the stored side of classification tags (R-TAG-1, R-TAG-3,
// R-TAG-4): the versions of the tag rules file, and the one bulk write
// that applies approved tag changes to many customers at once.
//
// Tags themselves live with the customers (Store::CustomerRecord::tags,
// table customer_tags); this interface only adds what the Store lacks: a
// conditional, all-or-nothing change of many customers' tags in ONE
// transaction, which is what "approved changes apply atomically" needs.
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace custvault::store {

inline constexpr size_t kRulesTextBytesMax = 64 << 10;  // 64 KiB
inline constexpr size_t kTagChangesPerWriteMax = 2'000'000;

// rules_versions.status
inline constexpr char kRulesProposed[] = "proposed";
inline constexpr char kRulesActive[] = "active";
inline constexpr char kRulesSuperseded[] = "superseded";

struct RulesVersionRecord {
  int64_t version = 0;  // 1, 2, ...
  std::string text;     // the TOML rules file
  std::string status = kRulesProposed;
  std::string created_by;  // actor id ("system" for version 1)
  int64_t created_at_us = 0;
  std::string approval_id;  // the rules_change approval ("" for version 1)
  int64_t activated_at_us = 0;
};

// One customer's tag change. `expected` is what the tags were when the
// change was computed (dimension -> value; a dimension absent from it was
// absent); `target` is what they become.
struct TagChange {
  std::string customer_id;
  std::map<std::string, std::string> expected;
  std::map<std::string, std::string> target;
};

// What happened to one TagChange, in the order given.
enum class TagChangeOutcome {
  kApplied,         // the customer's tags on those dimensions were `expected`; now `target`
  kAlreadyApplied,  // they were `target` already (e.g. applying again after a crash)
  kStale,           // they were neither: someone changed them since; not touched
  kMissing,         // the customer no longer exists; not touched
};

// What classifying one customer needs, and nothing more (no other field,
// no blind index): read by ScanForClassification.
struct ClassificationRow {
  std::string id;
  uint32_t kek_version = 0;
  std::string wrapped_key;
  std::optional<std::string> field;  // the stored bytes of the requested field, if any
  std::vector<std::pair<std::string, std::string>> tags;  // (dimension, value), by dimension
};

class TagStore {
 public:
  virtual ~TagStore() = default;

  // ---- rules versions ----
  // Version must be the next one (max + 1): kConflict otherwise.
  virtual Status InsertRulesVersion(const RulesVersionRecord& record) = 0;
  virtual Result<RulesVersionRecord> GetRulesVersion(int64_t version) = 0;  // kNotFound
  // kNotFound when no version is active (a fresh database).
  virtual Result<RulesVersionRecord> ActiveRulesVersion() = 0;
  // Newest first, at most `limit`.
  virtual Result<std::vector<RulesVersionRecord>> ListRulesVersions(int limit) = 0;
  // proposed -> active, the active one -> superseded, in one transaction.
  // Activating the active version again is OK (idempotent); kConflict if
  // the version is superseded; kNotFound if absent.
  virtual Status ActivateRulesVersion(int64_t version, int64_t activated_at_us) = 0;

  // ---- tags ----
  // Customers with id > after_id in id order, at most `limit`
  // (1..kPageLimitMax), each with its wrapped key, the stored bytes of
  // `field_key` and its tags, in one read transaction (two queries, not one
  // per customer). Re-classification reads every customer this way.
  virtual Result<std::vector<ClassificationRow>> ScanForClassification(
      const std::string& after_id, int limit, const std::string& field_key) = 0;
  // Applies every change in ONE write transaction: for each, compares the
  // customer's current tags on the dimensions of `expected` and `target`
  // with them and writes `target` only when they equal `expected`
  // (outcome per change). All or nothing on error. At most
  // kTagChangesPerWriteMax changes. The customer rows are not rewritten
  // (updated_at_us is about fields; `updated_at_us` is kept for a store
  // that records when tags changed).
  virtual Result<std::vector<TagChangeOutcome>> ApplyTagChanges(
      const std::vector<TagChange>& changes, int64_t updated_at_us) = 0;
  // The same for more changes than fit in memory, still in ONE write
  // transaction: `next_page` fills the next changes (at most
  // kTagChangesPerWriteMax) and answers whether more pages follow;
  // `on_outcome` hears each change's outcome (its index in the page). An
  // error from either callback rolls everything back. The callbacks run
  // while the writer is held: they may read (other connections), not write.
  using TagChangePager = std::function<Result<bool>(std::vector<TagChange>* page)>;
  using TagOutcomeSink = std::function<Status(size_t index, TagChangeOutcome outcome)>;
  virtual Status ApplyTagChangesStreamed(const TagChangePager& next_page,
                                         const TagOutcomeSink& on_outcome,
                                         int64_t updated_at_us) = 0;
};

// The TagStore on the SQLite file of `store` (which must come from
// OpenSqliteStore and outlive it), sharing its connections.
Result<std::unique_ptr<TagStore>> OpenSqliteTagStore(Store& store);

}  // namespace custvault::store
