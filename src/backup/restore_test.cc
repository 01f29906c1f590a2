// Owned by the shipping/operations work (issue 6).
#include "backup/restore_test.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "audit/entry.h"
#include "audit/verify.h"
#include "common/encoding.h"
#include "store/shred_ledger.h"
#include "store/sqlite/integrity_check.h"
#include "store/sqlite/sqlite_audit_store.h"
#include "store/store.h"

namespace custvault::backup {
namespace {

constexpr int kListPageLimit = 1000;
constexpr size_t kFailureBytesMax = 400;

// The scratch directory is removed with std::filesystem: Env has no
// recursive removal, and this is the only place that needs one (a tree the
// tester itself made, under a name it chose).
void RemoveTree(const std::string& path) {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

uint64_t RandomBelow(Env* env, uint64_t bound) {
  uint64_t value = 0;
  uint8_t bytes[8];
  if (!env->RandomBytes(bytes).ok()) return 0;
  for (uint8_t b : bytes) value = (value << 8) | b;
  return bound == 0 ? 0 : value % bound;  // bias < 2^-40 for the bounds used here
}

// A failure's text comes from errors that name files by their absolute
// server path; the record (read through the API) keeps only the last part
// of each (".../name"), never the server's directory layout (issue 10.13).
std::string WithoutServerPaths(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const bool starts_path =
        text[i] == '/' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '(' ||
                           text[i - 1] == '\'' || text[i - 1] == '"' || text[i - 1] == '=' ||
                           text[i - 1] == ':');
    if (!starts_path) {
      out += text[i++];
      continue;
    }
    size_t end = i;
    while (end < text.size() && text[end] != ' ' && text[end] != ')' && text[end] != '\'' &&
           text[end] != '"' && text[end] != ',' && text[end] != ';') {
      ++end;
    }
    std::string_view path = text.substr(i, end - i);
    while (!path.empty() && (path.back() == ':' || path.back() == '.' || path.back() == '/')) {
      path.remove_suffix(1);
    }
    if (path.empty()) {  // "/" alone: nothing to shorten
      out += text[i++];
      continue;
    }
    const size_t last = path.find_last_of('/');
    out += ".../";
    out += last == std::string_view::npos ? path : path.substr(last + 1);
    i += path.size();
  }
  return out;
}

std::string Clip(std::string text) {
  text = WithoutServerPaths(text);
  if (text.size() > kFailureBytesMax) {
    text.resize(kFailureBytesMax);
    // Not in the middle of a UTF-8 sequence.
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
    if (!text.empty() && (static_cast<unsigned char>(text.back()) & 0x80) != 0) text.pop_back();
  }
  return text;
}

}  // namespace

RestoreTester::RestoreTester(Env* env, const catalog::Catalog& catalog,
                             std::string master_key_path, crypto::CryptoProfile profile,
                             RestoreTestLog& log, audit::AuditLog* audit)
    : env_(env),
      catalog_(catalog),
      master_key_path_(std::move(master_key_path)),
      profile_(profile),
      log_(log),
      audit_(audit) {}

Result<RestoreTestRecord> RestoreTester::Run(const RestoreIntoFn& restore,
                                             const RestoreTestOptions& options) {
  if (options.samples < 0 || options.samples > kRestoreTestSamplesMax) {
    return InvalidArgument("samples must be 0.." + std::to_string(kRestoreTestSamplesMax));
  }
  if (options.scratch_parent.empty()) return InvalidArgument("no scratch directory given");
  RestoreTestRecord record;
  record.started_at_us = env_->NowMicros();
  record.id = "rt-" + std::to_string(record.started_at_us);
  record.trigger = options.trigger;
  record.actor_id = options.actor_id;
  record.location = options.location;

  uint8_t suffix[6];
  RETURN_IF_ERROR(env_->RandomBytes(suffix));
  const std::string scratch = options.scratch_parent + "/.restore-test-" +
                              std::to_string(record.started_at_us) + "-" +
                              HexEncode(std::string_view(reinterpret_cast<char*>(suffix), 6));
  Status made = env_->CreateDirectories(scratch, 0700);
  if (made.ok()) {
    Result<RestoredData> restored = restore(scratch);
    if (!restored.ok()) {
      record.failure = Clip("restore: " + restored.status().message());
    } else {
      record.backup_id = restored->backup_id;
      record.chain = restored->chain;
      record.segments_applied = restored->segments_applied;
      record.restored_bytes = restored->restored_bytes;
      Check(*restored, options, &record);
    }
  } else {
    record.failure = Clip("scratch directory: " + made.message());
  }
  if (!options.keep_scratch) RemoveTree(scratch);
  record.passed = record.failure.empty();
  record.duration_ms = (env_->NowMicros() - record.started_at_us) / 1000;

  // The record first (auditors read it), then the audit entry; an
  // unreachable off-site copy of the record is reported, not fatal.
  const Status logged = log_.Append(record);
  if (!logged.ok() && logged.code() != ErrorCode::kUnavailable) return logged;
  RETURN_IF_ERROR(Audit(record, options));
  if (!logged.ok()) return logged;
  return record;
}

void RestoreTester::Check(const RestoredData& restored, const RestoreTestOptions& options,
                          RestoreTestRecord* record) {
  auto fail = [record](std::string why) {
    if (record->failure.empty()) record->failure = Clip(std::move(why));
  };
  // 2. SQLite's structural check, before anything opens the files for writing.
  Result<std::string> integrity = store::sqlite::CheckDatabaseIntegrity(restored.custvault_db_path);
  record->integrity_custvault_db = integrity.ok() ? *integrity : integrity.status().message();
  if (record->integrity_custvault_db != "ok") {
    fail("custvault.db integrity check: " + record->integrity_custvault_db);
  }
  integrity = store::sqlite::CheckDatabaseIntegrity(restored.audit_db_path);
  record->integrity_audit_db = integrity.ok() ? *integrity : integrity.status().message();
  if (record->integrity_audit_db != "ok") {
    fail("audit.db integrity check: " + record->integrity_audit_db);
  }
  if (!record->failure.empty()) return;

  // The restored keys, under the live master key.
  store::SqliteOptions store_options;
  store_options.path = restored.custvault_db_path;
  store_options.readers = 1;
  store_options.env = env_;
  Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore(store_options);
  if (!opened.ok()) return fail("open custvault.db: " + opened.status().message());
  store::Store& restored_store = **opened;
  Result<std::unique_ptr<crypto::Keyring>> keyring =
      crypto::Keyring::Open(env_, master_key_path_, profile_, /*create_if_missing=*/false);
  if (!keyring.ok()) return fail("master key: " + keyring.status().message());
  Result<std::vector<store::StoredKey>> keys = restored_store.ListKeys();
  if (!keys.ok()) return fail("read keys: " + keys.status().message());
  for (const store::StoredKey& key : *keys) {
    const Status loaded = (*keyring)->LoadDomainKey({key.purpose, key.version, key.wrapped});
    if (!loaded.ok()) {
      return fail("domain key " + key.purpose + " v" + std::to_string(key.version) +
                  " does not open: " + loaded.message());
    }
  }

  // 3. The audit chain.
  Result<std::unique_ptr<store::sqlite::SqliteAuditStore>> audit_store =
      store::sqlite::SqliteAuditStore::Open({.path = restored.audit_db_path, .readers = 1});
  if (!audit_store.ok()) return fail("open audit.db: " + audit_store.status().message());
  Result<audit::VerifyReport> report = audit::VerifyChain(**audit_store, **keyring);
  if (!report.ok()) return fail("audit chain: " + report.status().message());
  record->audit_chain_intact = report->intact();
  record->audit_damage = std::string(audit::DamageName(report->damage));
  record->audit_entries = report->entries_checked;
  if (!report->intact()) {
    fail("audit chain broken at seq " + std::to_string(report->first_bad_seq) + " (" +
         record->audit_damage + "): " + report->detail);
  }

  // 4. Counts against the manifest.
  record->customers_expected = restored.customers_expected;
  record->audit_entries_expected = restored.audit_entries_expected;
  Result<int64_t> count = restored_store.CountCustomers();
  if (!count.ok()) return fail("count customers: " + count.status().message());
  record->customers_found = *count;
  if (restored.customers_expected >= 0 && *count != restored.customers_expected) {
    fail("customers: " + std::to_string(*count) + " restored, the manifest says " +
         std::to_string(restored.customers_expected));
  }
  if (restored.audit_entries_expected >= 0 &&
      report->entries_checked != restored.audit_entries_expected) {
    fail("audit entries: " + std::to_string(report->entries_checked) +
         " restored, the manifest says " + std::to_string(restored.audit_entries_expected));
  }

  // 5. One pass by id: count what is listed, draw the sample (reservoir),
  // and note which restored customers the shred ledger says are deleted.
  std::multimap<std::string, int64_t> shredded;  // id -> deleted_at_us
  if (!options.shred_ledger_path.empty()) {
    Result<store::ShredLedgerContents> ledger = store::ReadShredLedger(options.shred_ledger_path);
    if (ledger.ok()) {
      for (const store::ShredEntry& entry : ledger->entries) {
        shredded.emplace(entry.customer_id, entry.deleted_at_us);
      }
    } else if (ledger.status().code() != ErrorCode::kNotFound) {
      return fail("shred ledger: " + ledger.status().message());
    }
  }
  std::vector<std::string> sample;
  int64_t listed = 0;
  int64_t shredded_back = 0;
  std::string first_shredded_back;
  std::optional<std::string> cursor;
  do {
    Result<store::CustomerPage> page =
        restored_store.ListCustomers(std::nullopt, cursor, kListPageLimit);
    if (!page.ok()) return fail("list customers: " + page.status().message());
    for (const store::CustomerRecord& customer : page->items) {
      ++listed;
      if (static_cast<int>(sample.size()) < options.samples) {
        sample.push_back(customer.id);
      } else if (options.samples > 0) {
        const uint64_t slot = RandomBelow(env_, static_cast<uint64_t>(listed));
        if (slot < static_cast<uint64_t>(options.samples)) sample[slot] = customer.id;
      }
      auto [begin, end] = shredded.equal_range(customer.id);
      for (auto it = begin; it != end; ++it) {
        // An id may be drawn again after a deletion: only a customer
        // created at or before the deletion is the deleted one.
        if (customer.created_at_us <= it->second) {
          if (shredded_back++ == 0) first_shredded_back = customer.id;
          break;
        }
      }
    }
    cursor = page->next_cursor;
  } while (cursor);
  if (listed != record->customers_found) {
    fail("customers: " + std::to_string(listed) + " listed but " +
         std::to_string(record->customers_found) + " counted");
  }

  std::string first_bad;
  for (const std::string& id : sample) {
    ++record->samples_tried;
    Status opened_all = [&]() -> Status {
      ASSIGN_OR_RETURN(store::CustomerRecord customer, restored_store.GetCustomer(id));
      ASSIGN_OR_RETURN(crypto::SecretBytes key,
                       (*keyring)->UnwrapCustomerKey(customer.id, customer.kek_version,
                                                     customer.wrapped_key));
      for (const auto& [field_key, stored] : customer.fields) {
        const catalog::FieldDef* field = catalog_.Find(field_key);
        // Plain fields hold no envelope; a field the catalog no longer
        // has is still an envelope and must still open.
        if (field != nullptr && field->protection == catalog::Protection::kPlain) continue;
        ASSIGN_OR_RETURN(crypto::SecretBytes plain,
                         (*keyring)->DecryptField(key, customer.id, field_key, stored));
      }
      return Status::Ok();
    }();
    if (!opened_all.ok()) {
      ++record->samples_failed;
      if (first_bad.empty()) first_bad = id + " (" + opened_all.message() + ")";
    }
  }
  if (record->samples_failed > 0) {
    fail(std::to_string(record->samples_failed) + " of " + std::to_string(record->samples_tried) +
         " sampled customers do not decrypt, first " + first_bad);
  }
  if (shredded_back > 0) {
    fail(std::to_string(shredded_back) + " deleted customers are back, first " +
         first_shredded_back);
  }
}

Status RestoreTester::Audit(const RestoreTestRecord& record, const RestoreTestOptions& options) {
  if (audit_ == nullptr) return Status::Ok();
  audit::AuditEvent event;
  event.actor_id = options.actor_id.empty() ? "local" : options.actor_id;
  event.actor_role = options.actor_role;
  event.source_ip = options.source_ip;
  event.operation = std::string(audit::op::kRestoreTest);
  event.result = std::string(record.passed ? audit::result::kOk : audit::result::kFailed);
  event.details["record_id"] = record.id;
  event.details["backup_id"] = record.backup_id;
  event.details["trigger"] = record.trigger;
  event.details["duration_ms"] = record.duration_ms;
  event.details["customers"] = record.customers_found;
  event.details["audit_entries"] = record.audit_entries;
  event.details["samples_tried"] = record.samples_tried;
  event.details["samples_failed"] = record.samples_failed;
  event.details["segments_applied"] = record.segments_applied;
  if (!record.passed) event.details["failure"] = record.failure;
  Result<int64_t> seq = audit_->Append(event);
  return seq.ok() ? Status::Ok() : seq.status();
}

}  // namespace custvault::backup
