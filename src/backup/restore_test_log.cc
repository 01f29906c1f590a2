// Owned by the shipping/operations work (issue 6).
#include "backup/restore_test_log.h"

#include <algorithm>
#include <boost/json.hpp>

namespace custvault::backup {
namespace json = boost::json;
namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000;

Result<std::string> StringField(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr) return std::string();
  if (!value->is_string()) return DataLoss("restore test record: " + std::string(name) +
                                           " is not a string");
  return std::string(value->as_string());
}

Result<int64_t> IntField(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr) return int64_t{0};
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64() && value->as_uint64() <= INT64_MAX) {
    return static_cast<int64_t>(value->as_uint64());
  }
  return DataLoss("restore test record: " + std::string(name) + " is not an integer");
}

Result<bool> BoolField(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(name);
  if (value == nullptr) return false;
  if (!value->is_bool()) return DataLoss("restore test record: " + std::string(name) +
                                         " is not a boolean");
  return value->as_bool();
}

}  // namespace

json::object RestoreTestRecordJson(const RestoreTestRecord& r) {
  json::object out;
  out["id"] = r.id;
  out["started_at"] = FormatRfc3339(r.started_at_us);
  out["started_at_us"] = r.started_at_us;
  out["duration_ms"] = r.duration_ms;
  out["trigger"] = r.trigger;
  out["actor"] = r.actor_id;
  out["location"] = r.location;
  out["backup_id"] = r.backup_id;
  json::array chain;
  for (const std::string& id : r.chain) chain.push_back(json::string(id));
  out["chain"] = std::move(chain);
  out["segments_applied"] = r.segments_applied;
  out["result"] = r.passed ? "pass" : "fail";
  out["passed"] = r.passed;
  out["failure"] = r.failure;
  json::object figures;
  figures["integrity_custvault_db"] = r.integrity_custvault_db;
  figures["integrity_audit_db"] = r.integrity_audit_db;
  figures["audit_chain_intact"] = r.audit_chain_intact;
  figures["audit_damage"] = r.audit_damage;
  figures["audit_entries"] = r.audit_entries;
  figures["audit_entries_expected"] = r.audit_entries_expected;
  figures["customers_expected"] = r.customers_expected;
  figures["customers_found"] = r.customers_found;
  figures["samples_tried"] = r.samples_tried;
  figures["samples_failed"] = r.samples_failed;
  figures["restored_bytes"] = r.restored_bytes;
  out["figures"] = std::move(figures);
  return out;
}

Result<RestoreTestRecord> RestoreTestRecordFromJson(const json::value& value) {
  if (!value.is_object()) return DataLoss("restore test record is not a JSON object");
  const json::object& o = value.as_object();
  RestoreTestRecord r;
  ASSIGN_OR_RETURN(r.id, StringField(o, "id"));
  ASSIGN_OR_RETURN(r.started_at_us, IntField(o, "started_at_us"));
  ASSIGN_OR_RETURN(r.duration_ms, IntField(o, "duration_ms"));
  ASSIGN_OR_RETURN(r.trigger, StringField(o, "trigger"));
  ASSIGN_OR_RETURN(r.actor_id, StringField(o, "actor"));
  ASSIGN_OR_RETURN(r.location, StringField(o, "location"));
  ASSIGN_OR_RETURN(r.backup_id, StringField(o, "backup_id"));
  if (const json::value* chain = o.if_contains("chain")) {
    if (!chain->is_array()) return DataLoss("restore test record: chain is not an array");
    for (const json::value& id : chain->as_array()) {
      if (!id.is_string()) return DataLoss("restore test record: chain holds a non-string");
      r.chain.emplace_back(id.as_string());
    }
  }
  ASSIGN_OR_RETURN(r.segments_applied, IntField(o, "segments_applied"));
  ASSIGN_OR_RETURN(r.passed, BoolField(o, "passed"));
  ASSIGN_OR_RETURN(r.failure, StringField(o, "failure"));
  const json::value* figures_value = o.if_contains("figures");
  if (figures_value != nullptr) {
    if (!figures_value->is_object()) return DataLoss("restore test record: figures is not an object");
    const json::object& f = figures_value->as_object();
    ASSIGN_OR_RETURN(r.integrity_custvault_db, StringField(f, "integrity_custvault_db"));
    ASSIGN_OR_RETURN(r.integrity_audit_db, StringField(f, "integrity_audit_db"));
    ASSIGN_OR_RETURN(r.audit_chain_intact, BoolField(f, "audit_chain_intact"));
    ASSIGN_OR_RETURN(r.audit_damage, StringField(f, "audit_damage"));
    ASSIGN_OR_RETURN(r.audit_entries, IntField(f, "audit_entries"));
    ASSIGN_OR_RETURN(r.audit_entries_expected, IntField(f, "audit_entries_expected"));
    ASSIGN_OR_RETURN(r.customers_expected, IntField(f, "customers_expected"));
    ASSIGN_OR_RETURN(r.customers_found, IntField(f, "customers_found"));
    ASSIGN_OR_RETURN(const int64_t tried, IntField(f, "samples_tried"));
    ASSIGN_OR_RETURN(const int64_t failed, IntField(f, "samples_failed"));
    r.samples_tried = static_cast<int>(tried);
    r.samples_failed = static_cast<int>(failed);
    ASSIGN_OR_RETURN(r.restored_bytes, IntField(f, "restored_bytes"));
  }
  return r;
}

json::object RestoreTestStatusJson(const RestoreTestStatus& status) {
  json::object out;
  out["overdue"] = status.overdue;
  out["overdue_after_days"] = kRestoreTestOverdueDays;
  if (status.days_since_last_pass >= 0) {
    out["days_since_last_pass"] = status.days_since_last_pass;
  } else {
    out["days_since_last_pass"] = nullptr;
  }
  if (status.last_passed) {
    out["last_passed_at"] = FormatRfc3339(status.last_passed->started_at_us);
    out["last_passed_id"] = status.last_passed->id;
  } else {
    out["last_passed_at"] = nullptr;
  }
  if (status.last) {
    out["last"] = RestoreTestRecordJson(*status.last);
  } else {
    out["last"] = nullptr;
  }
  return out;
}

std::vector<std::string> RestoreTestDirectories(const Config& config) {
  std::vector<std::string> directories = {config.DataPath(config.backup.local_dir)};
  if (!config.backup.offsite_dir.empty()) {
    directories.push_back(config.DataPath(config.backup.offsite_dir));
  }
  return directories;
}

RestoreTestLog::RestoreTestLog(Env* env, std::vector<std::string> directories)
    : env_(env), directories_(std::move(directories)) {}

Result<std::vector<RestoreTestRecord>> RestoreTestLog::ReadAll(const std::string& directory) {
  const std::string path = directory + "/" + kRestoreTestsFileName;
  std::vector<RestoreTestRecord> records;
  Result<std::string> text = env_->ReadFile(path);
  if (!text.ok()) {
    if (text.status().code() == ErrorCode::kNotFound) return records;
    return text.status();
  }
  if (text->size() > kRestoreTestsFileBytesMax) return DataLoss(path + " is over 8 MiB");
  boost::system::error_code ec;
  const json::value parsed = json::parse(*text, ec);
  if (ec || !parsed.is_object() || !parsed.as_object().contains("records") ||
      !parsed.at("records").is_array()) {
    return DataLoss(path + " is not a restore-test record file");
  }
  for (const json::value& item : parsed.at("records").as_array()) {
    Result<RestoreTestRecord> record = RestoreTestRecordFromJson(item);
    if (!record.ok()) return DataLoss(path + ": " + record.status().message());
    records.push_back(std::move(*record));
  }
  return records;
}

Status RestoreTestLog::Append(const RestoreTestRecord& record) {
  if (directories_.empty()) return InvalidArgument("no directory for restore-test records");
  std::lock_guard lock(append_mutex_);
  Status later_failure;
  for (size_t i = 0; i < directories_.size(); ++i) {
    const std::string& directory = directories_[i];
    Status written = [&]() -> Status {
      // The local directory is made when missing; a later one (off-site)
      // must exist: it may be an unmounted remote file system.
      if (i == 0) {
        RETURN_IF_ERROR(env_->CreateDirectories(directory, 0700));
      } else if (!env_->FileExists(directory)) {
        return Unavailable("it does not exist (is the remote file system mounted?)");
      }
      ASSIGN_OR_RETURN(std::vector<RestoreTestRecord> records, ReadAll(directory));
      // The same id twice (a retried append) is written once.
      records.erase(std::remove_if(records.begin(), records.end(),
                                   [&](const RestoreTestRecord& r) { return r.id == record.id; }),
                    records.end());
      records.push_back(record);
      std::stable_sort(records.begin(), records.end(),
                       [](const RestoreTestRecord& a, const RestoreTestRecord& b) {
                         return a.started_at_us < b.started_at_us;
                       });
      if (records.size() > kRestoreTestRecordsMax) {
        records.erase(records.begin(),
                      records.begin() + static_cast<long>(records.size() - kRestoreTestRecordsMax));
      }
      json::array items;
      for (const RestoreTestRecord& r : records) items.push_back(RestoreTestRecordJson(r));
      json::object file;
      file["format"] = "custvault restore tests v1";
      file["records"] = std::move(items);
      return env_->WriteFileAtomic(directory + "/" + kRestoreTestsFileName,
                                   json::serialize(file) + "\n", 0600, false);
    }();
    if (!written.ok()) {
      if (i == 0) return written;
      if (later_failure.ok()) {
        later_failure = Unavailable("restore-test record not copied to " + directory + ": " +
                                    written.message());
      }
    }
  }
  return later_failure;
}

Result<std::vector<RestoreTestRecord>> RestoreTestLog::List(int limit) {
  if (limit < 1 || static_cast<size_t>(limit) > kRestoreTestRecordsMax) {
    return InvalidArgument("limit must be 1.." + std::to_string(kRestoreTestRecordsMax));
  }
  // The local file first; the off-site copy when the local one is missing
  // or unreadable (the machine was rebuilt, or the file was damaged).
  std::vector<RestoreTestRecord> records;
  Status first_error;
  for (const std::string& directory : directories_) {
    Result<std::vector<RestoreTestRecord>> read = ReadAll(directory);
    if (!read.ok()) {
      if (first_error.ok()) first_error = read.status();
      continue;
    }
    if (read->empty()) continue;
    records = std::move(*read);
    break;
  }
  if (records.empty() && !first_error.ok()) return first_error;
  std::reverse(records.begin(), records.end());
  if (records.size() > static_cast<size_t>(limit)) records.resize(static_cast<size_t>(limit));
  return records;
}

Result<RestoreTestStatus> RestoreTestLog::CurrentStatus(int64_t now_us) {
  ASSIGN_OR_RETURN(std::vector<RestoreTestRecord> records,
                   List(static_cast<int>(kRestoreTestRecordsMax)));
  RestoreTestStatus status;
  if (!records.empty()) status.last = records.front();
  for (const RestoreTestRecord& record : records) {
    if (!record.passed) continue;
    status.last_passed = record;
    break;
  }
  if (status.last_passed) {
    const int64_t age_us = now_us - status.last_passed->started_at_us;
    status.days_since_last_pass = std::max<int64_t>(0, age_us / kMicrosPerDay);
    status.overdue = age_us > kRestoreTestOverdueDays * kMicrosPerDay;
  }
  return status;
}

}  // namespace custvault::backup
