// Owned by the shipping/operations work (issue 6, R-BAK-2, R-OPS-2): the
// record of every restore test, kept where auditors can read it.
//
// Each restore test (restore_test.h) leaves one RestoreTestRecord. The
// records live in a JSON file, `restore-tests.json`, in the local backup
// directory and (when one is configured) in the off-site directory too, so
// they survive the loss of the machine together with the backups they
// describe; every record is also in the audit log (backup.restore_test),
// whose chain makes it tamper-evident. The file is rewritten whole
// (Env::WriteFileAtomic: temp file, fsync, rename), so a crash leaves the
// old list or the new one, never half of one. It holds at most
// kRestoreTestRecordsMax records (the oldest go first: one a quarter is
// ~40 years). No record holds personal data: ids, counts, times, reasons.
//
// Overdue: R-OPS-2 asks for a reminder when no restore test has passed
// within kRestoreTestOverdueDays (a quarter plus a day).
//
// Thread safety: Append is serialised inside; List may run beside it.
// Errors: kDataLoss for a file that does not parse (named), the file
// system's errors otherwise.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/env.h"
#include "common/status.h"

namespace custvault::backup {

inline constexpr char kRestoreTestsFileName[] = "restore-tests.json";
inline constexpr size_t kRestoreTestRecordsMax = 160;
inline constexpr size_t kRestoreTestsFileBytesMax = 8 << 20;
inline constexpr int kRestoreTestOverdueDays = 92;

struct RestoreTestRecord {
  std::string id;  // "rt-" + started_at_us, unique per location
  int64_t started_at_us = 0;
  int64_t duration_ms = 0;
  std::string trigger;        // "job" | "cli" | "api"
  std::string actor_id;       // who asked ("job:restore_test", an account id)
  std::string location;       // "local" or "offsite": where it restored from (never a path)
  std::string backup_id;      // the newest backup of the chain restored
  std::vector<std::string> chain;  // every backup id restored, full first
  int64_t segments_applied = 0;    // shipped segments applied after the chain
  bool passed = false;
  std::string failure;  // the first check that failed, one sentence; "" when passed

  // Figures.
  std::string integrity_custvault_db;  // "ok" or the first line PRAGMA integrity_check gave
  std::string integrity_audit_db;
  bool audit_chain_intact = false;
  std::string audit_damage;  // audit::DamageName, "none" when intact
  int64_t audit_entries = 0;
  int64_t customers_expected = 0;  // from the manifest
  int64_t customers_found = 0;
  int64_t audit_entries_expected = 0;
  int samples_tried = 0;  // customers decrypted in full
  int samples_failed = 0;
  int64_t restored_bytes = 0;
};

struct RestoreTestStatus {
  std::optional<RestoreTestRecord> last;         // the newest record, passed or not
  std::optional<RestoreTestRecord> last_passed;  // the newest passing one
  bool overdue = true;  // no pass within kRestoreTestOverdueDays of now
  int64_t days_since_last_pass = -1;  // -1 when none ever passed
};

// The JSON shape the API and the CLI print (and the file stores); times
// as RFC 3339 and as microseconds.
boost::json::object RestoreTestRecordJson(const RestoreTestRecord& record);
Result<RestoreTestRecord> RestoreTestRecordFromJson(const boost::json::value& value);

class RestoreTestLog {
 public:
  // `directories`: the local backup directory first, then the off-site one
  // (if any). Records are written to each and read from the first that has
  // the file. The env must outlive the log.
  RestoreTestLog(Env* env, std::vector<std::string> directories);

  // Adds `record` in every directory. The first directory's failure is the
  // result; a failure in a later one (the off-site copy may be
  // unreachable) is returned as kUnavailable after the first succeeded,
  // naming the directory, so the caller can report it.
  Status Append(const RestoreTestRecord& record);

  // Newest first, at most `limit` (1..kRestoreTestRecordsMax).
  Result<std::vector<RestoreTestRecord>> List(int limit);

  // What R-OPS-2's reminder needs, as of now_us.
  Result<RestoreTestStatus> CurrentStatus(int64_t now_us);

 private:
  Result<std::vector<RestoreTestRecord>> ReadAll(const std::string& directory);

  Env* const env_;
  const std::vector<std::string> directories_;
  std::mutex append_mutex_;
};

// The directories restore-test records go to for a config: the local
// backup directory, then the off-site one when set (both resolved against
// the data directory when relative).
std::vector<std::string> RestoreTestDirectories(const Config& config);

// The status as JSON: {"overdue":..,"overdue_after_days":92,
// "days_since_last_pass":..,"last_passed_at":..,"last":{..}}.
boost::json::object RestoreTestStatusJson(const RestoreTestStatus& status);

}  // namespace custvault::backup
