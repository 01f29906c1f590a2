// Config: the deployment's settings, from D/custvault.toml with environment
// overrides, validated once at start.
//
// Every key is `section.key`; the environment variable CUSTVAULT_SECTION_KEY
// (upper case) overrides it, e.g. CUSTVAULT_SERVER_LISTEN=0.0.0.0:8443.
// An unknown key, a wrong type or a value out of range fails the load with a
// message that names the key, so a typo never silently means a default.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"

namespace custvault {

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";
  int io_threads = 2;           // threads running the network event loop
  // Threads running request handlers. Handlers mostly wait on fsync (the
  // audit entry, the customer write), so more threads than cores let group
  // commit serve many requests per fsync (docs/performance.md).
  int worker_threads = 16;
  int worker_queue_max = 4096;  // waiting requests before 503 + Retry-After
  int64_t body_bytes_max = 1 << 20;
  int header_bytes_max = 16 * 1024;
  // Reading one request (after its header) and writing one answer; not the
  // handler's own time (expensive routes are bounded by their pool instead).
  int request_timeout_ms = 30'000;
  // A connection that has not sent a complete request header within this
  // time (a new one, or an idle keep-alive one) is closed.
  int header_timeout_ms = 10'000;
  int connections_max = 4096;
  // Open connections from one socket peer address; more are refused at once.
  int connections_per_ip_max = 64;
  // Expensive routes (dry runs, rules, exports, backups, verification) run
  // on their own small pool so they can never take every general worker.
  int expensive_worker_threads = 2;
  int expensive_queue_max = 8;  // waiting expensive requests before 503
};

struct StorageConfig {
  std::string backend = "sqlite";            // sqlite | postgres (later)
  std::string sqlite_file = "custvault.db";  // relative to the data directory
  int sqlite_readers = 4;                    // read-only connections in the pool
  int busy_timeout_ms = 5'000;
};

struct CryptoConfig {
  // "default": basic fields AES-256-GCM, sensitive fields SM4-GCM (the seed's
  // split). "gm": every field SM4-GCM, every hash SM3 (GB/T 39786).
  std::string profile = "default";
  std::string master_key_file = "master.key";  // relative to the data directory
};

struct CatalogConfig {
  std::string industry = "finance";             // finance | ecommerce | consulting | medical
  std::string extra_fields_file;                // optional TOML with [[field]] entries
  std::string id_number_mask = "first6_last6";  // or first6_last4 (R-CAT-2a)
};

struct LimitsConfig {
  int page_size_default = 20;
  int page_size_max = 200;
  int field_bytes_max = 4096;          // any text field, after UTF-8 encoding
  int binary_field_bytes_max = 65536;  // decoded biometric template
};

// Accounts, passwords, sessions (R-ACC-4). Section [auth].
struct AuthConfig {
  int password_length_min = 12;
  int password_expiry_days = 90;
  int password_history = 5;  // the last N passwords may not be reused
  int lockout_failures = 5;  // consecutive failures before a lockout
  int lockout_minutes = 15;
  // Roles that must give a TOTP code at login (comma-separated role names).
  std::string totp_required_roles = "info_manager,dept_head,auditor,security_officer,sys_admin";
  int session_idle_minutes = 15;
  int session_absolute_hours = 8;
  std::string ip_allowlist;       // comma-separated CIDRs for the deployment; empty: any
  int argon2_memory_kib = 65536;  // argon2id parameters (docs/access-control.md)
  int argon2_iterations = 3;
  int argon2_parallelism = 1;
  int reveal_per_hour_max = 30;    // reveals per account per hour
  int review_interval_days = 182;  // accounts not reviewed for this long are overdue
  // Login floods (issue 10.6): password verifications (argon2id, one
  // argon2_memory_kib each) running at once; more are refused 503 at once.
  // 0: the number of cores.
  int login_concurrent_max = 0;
  int login_per_minute = 10;  // logins per client address: refill rate ...
  int login_burst = 20;       // ... and bucket size; beyond it 429 + Retry-After
  // Channel API keys (issue 11.4): lifetime when none is given, the
  // longest allowed, and how long the old key still works after a rotation.
  int channel_key_days = 365;
  int channel_key_days_max = 730;
  int channel_key_overlap_hours = 24;
};

// The audit log (R-AUD). Section [audit].
struct AuditConfig {
  int retention_days = 1096;  // at least 3 years; smaller values are refused
  int checkpoint_every_entries = 1000;
  int checkpoint_every_seconds = 60;
  int queue_max = 65536;        // waiting entries before requests get 503
  int batch_max = 4096;         // entries per group commit
  std::string trusted_proxies;  // comma-separated CIDRs whose X-Forwarded-For is believed
  // Alert rules (R-AUD-4).
  std::string working_hours = "08:00-20:00";  // local time; outside it, access alerts
  std::string working_days = "1-5";           // ISO weekdays, Monday = 1
  int bulk_views_max = 200;                   // customer views/exports by one account ...
  int bulk_views_window_minutes = 10;         // ... within this window
  int login_failures_max = 5;
  int login_failures_window_minutes = 15;
  int reveals_max = 20;
  int reveals_window_minutes = 10;
  // Searches (issue 10.1): more than search_burst_max searches by one
  // account within search_burst_window_minutes; at least
  // search_misses_alert_min searches that found nobody within
  // search_misses_window_minutes, making up at least
  // search_miss_ratio_percent of that account's searches there.
  int search_burst_max = 30;
  int search_burst_window_minutes = 5;
  int search_misses_alert_min = 10;
  int search_miss_ratio_percent = 50;
  int search_misses_window_minutes = 60;
  bool new_ip_alert = true;       // a login from an IP new for the account
  std::string alert_webhook_url;  // optional http:// URL that receives each alert as JSON
};

// Tags and re-classification (R-TAG). The rules themselves are data in the
// database (versioned, changed only through approval); this names the file
// used to seed version 1, "" for the built-in defaults.
struct TagsConfig {
  std::string initial_rules_file;
  int reclassify_batch_size = 10'000;  // customers per batch (memory stays flat)
  int approval_expiry_days = 14;       // a pending approval expires after this
};

// The persistent scheduler (jobs/). Schedules: "daily HH:MM",
// "weekly DAY HH:MM" (mon..sun), "quarterly HH:MM" (first day of Jan, Apr,
// Jul, Oct), "off"; local time by general.utc_offset_seconds.
struct JobsConfig {
  bool enabled = true;  // false: nothing runs on a timer (CLI and API still can)
  std::string reclassify = "quarterly 02:00";
  std::string backup_incremental = "daily 23:00";
  std::string backup_full = "weekly sun 03:00";
  std::string restore_test = "quarterly 04:00";
};

// Backups (R-BAK). Paths are relative to the data directory unless absolute.
struct BackupConfig {
  std::string local_dir = "backups";  // archives written here first
  std::string offsite_dir;            // second location (e.g. a mounted remote file system); "" = none
  int keep_full = 4;                  // full backups kept (with their incrementals) per location
  bool shipping = true;               // continuous shipping to offsite_dir when it is set
  int shipping_interval_ms = 500;     // how often committed changes are shipped
  int chunk_bytes = 4 << 20;          // plaintext bytes per encrypted chunk
  int zstd_level = 3;
};

// The search budget of each account (issue 10.1, docs/access-control.md):
// an exact search by a protected value confirms a guess, so each account
// may search searches_max times per window, of which at most misses_max
// may find nobody. Once the budget is spent, lock_after_refused more
// attempts within the same window lock the account's search until a
// security officer clears it. Section [search].
struct SearchConfig {
  int window_minutes = 60;
  int searches_max = 60;
  int misses_max = 20;
  int lock_after_refused = 10;
};

// Customer self-service (R-SELF-1).
struct SelfServiceConfig {
  bool enabled = true;
  int code_ttl_seconds = 300;
  int code_attempts_max = 5;
  int codes_per_customer_per_hour = 5;
  int starts_per_ip_per_hour = 30;
  // Requests to the self-service endpoints per client address per window,
  // checked before anything is audited; refusals are audited as one
  // summary per window (issue 10.8).
  int requests_per_ip_max = 60;
  int requests_window_seconds = 60;
};

// The SMS gateway for one-time codes. "outbox": messages are appended to
// the file outbox_file (relative to the data directory), for tests and for
// deployments that relay it; "http": POST to url_template, where {phone}
// and {message} are replaced (URL-encoded).
struct SmsConfig {
  std::string gateway = "outbox";
  std::string outbox_file = "sms-outbox.jsonl";
  std::string url_template;
  int timeout_ms = 5'000;
};

struct LogConfig {
  std::string level = "info";  // trace | debug | info | warn | error
};

struct Config {
  std::string data_dir;
  int utc_offset_seconds = 8 * 3600;  // China Standard Time, for ids and dates
  ServerConfig server;
  StorageConfig storage;
  CryptoConfig crypto;
  CatalogConfig catalog;
  LimitsConfig limits;
  AuthConfig auth;
  AuditConfig audit;
  TagsConfig tags;
  JobsConfig jobs;
  BackupConfig backup;
  SelfServiceConfig self_service;
  SearchConfig search;
  SmsConfig sms;
  LogConfig log;

  // Absolute path of a file named relative to the data directory.
  std::string DataPath(const std::string& name) const;
};

// The CUSTVAULT_ variables that are not configuration keys: used by the
// scripts, the tests and the benchmarks (README "Configuration").
inline constexpr std::array<std::string_view, 14> kNonConfigEnvironmentNames = {
    "CUSTVAULT_DATA_DIR",     "CUSTVAULT_BINARY",        "CUSTVAULT_TEST_DATA_DIR",
    "CUSTVAULT_ROOT",         "CUSTVAULT_NINJA_JOBS",    "CUSTVAULT_WYCHEPROOF_DIR",
    "CUSTVAULT_TOKEN",        "CUSTVAULT_BENCH_IDS",     "CUSTVAULT_BENCH_PHONES",
    "CUSTVAULT_SHIPPING_RATE", "CUSTVAULT_SHIPPING_LOAD_SECONDS", "CUSTVAULT_PACKAGES",
    "CUSTVAULT_PYTHON",       "CUSTVAULT_TEST_JOBS"};

// Parses TOML text (may be empty) and applies overrides from `environment`
// (name -> value, normally the process environment). Validates every value.
// A CUSTVAULT_ name in `environment` that is neither a key's variable nor in
// kNonConfigEnvironmentNames is refused (kInvalidArgument naming it).
Result<Config> ParseConfig(const std::string& toml_text, const std::string& data_dir,
                           const std::map<std::string, std::string>& environment);

// The process environment's CUSTVAULT_* variables.
std::map<std::string, std::string> ProcessEnvironment();

// The commented default file `custvault init` writes.
std::string DefaultConfigToml();

}  // namespace custvault
