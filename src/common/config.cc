#include "common/config.h"
#include "common/toml_guard.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>
#include <sstream>
#include <toml.hpp>
#include <variant>
#include <vector>

extern char** environ;

namespace custvault {
namespace {

// One entry per accepted key: where it lives and how to check it.
struct IntKey {
  int64_t* target_wide = nullptr;
  int* target = nullptr;
  int64_t min = 0;
  int64_t max = 0;
};
struct BoolKey {
  bool* target = nullptr;
};
struct StringKey {
  std::string* target = nullptr;
  std::vector<std::string> allowed;  // empty: any value
};
using KeySpec = std::variant<IntKey, StringKey, BoolKey>;

std::map<std::string, KeySpec> KeySpecs(Config& c) {
  std::map<std::string, KeySpec> keys;
  keys["general.utc_offset_seconds"] =
      IntKey{nullptr, &c.utc_offset_seconds, -14 * 3600, 14 * 3600};
  keys["server.listen"] = StringKey{&c.server.listen, {}};
  keys["server.io_threads"] = IntKey{nullptr, &c.server.io_threads, 1, 64};
  keys["server.worker_threads"] = IntKey{nullptr, &c.server.worker_threads, 1, 256};
  keys["server.worker_queue_max"] = IntKey{nullptr, &c.server.worker_queue_max, 1, 1'000'000};
  keys["server.body_bytes_max"] = IntKey{&c.server.body_bytes_max, nullptr, 1024, 64LL << 20};
  keys["server.header_bytes_max"] = IntKey{nullptr, &c.server.header_bytes_max, 1024, 1 << 20};
  keys["server.request_timeout_ms"] = IntKey{nullptr, &c.server.request_timeout_ms, 100, 3'600'000};
  keys["server.connections_max"] = IntKey{nullptr, &c.server.connections_max, 1, 1'000'000};
  keys["server.header_timeout_ms"] = IntKey{nullptr, &c.server.header_timeout_ms, 100, 3'600'000};
  keys["server.connections_per_ip_max"] =
      IntKey{nullptr, &c.server.connections_per_ip_max, 1, 1'000'000};
  keys["server.expensive_worker_threads"] =
      IntKey{nullptr, &c.server.expensive_worker_threads, 1, 64};
  keys["server.expensive_queue_max"] =
      IntKey{nullptr, &c.server.expensive_queue_max, 1, 10'000};
  keys["storage.backend"] = StringKey{&c.storage.backend, {"sqlite"}};
  keys["storage.sqlite_file"] = StringKey{&c.storage.sqlite_file, {}};
  keys["storage.sqlite_readers"] = IntKey{nullptr, &c.storage.sqlite_readers, 1, 64};
  keys["storage.busy_timeout_ms"] = IntKey{nullptr, &c.storage.busy_timeout_ms, 0, 600'000};
  keys["crypto.profile"] = StringKey{&c.crypto.profile, {"default", "gm"}};
  keys["crypto.master_key_file"] = StringKey{&c.crypto.master_key_file, {}};
  keys["catalog.industry"] =
      StringKey{&c.catalog.industry, {"finance", "ecommerce", "consulting", "medical"}};
  keys["catalog.extra_fields_file"] = StringKey{&c.catalog.extra_fields_file, {}};
  keys["catalog.id_number_mask"] =
      StringKey{&c.catalog.id_number_mask, {"first6_last6", "first6_last4"}};
  keys["limits.page_size_default"] = IntKey{nullptr, &c.limits.page_size_default, 1, 10'000};
  keys["limits.page_size_max"] = IntKey{nullptr, &c.limits.page_size_max, 1, 10'000};
  keys["limits.field_bytes_max"] = IntKey{nullptr, &c.limits.field_bytes_max, 16, 1 << 20};
  keys["limits.binary_field_bytes_max"] =
      IntKey{nullptr, &c.limits.binary_field_bytes_max, 16, 16 << 20};
  keys["auth.password_length_min"] = IntKey{nullptr, &c.auth.password_length_min, 8, 128};
  keys["auth.password_expiry_days"] = IntKey{nullptr, &c.auth.password_expiry_days, 1, 3650};
  keys["auth.password_history"] = IntKey{nullptr, &c.auth.password_history, 0, 24};
  keys["auth.lockout_failures"] = IntKey{nullptr, &c.auth.lockout_failures, 1, 100};
  keys["auth.lockout_minutes"] = IntKey{nullptr, &c.auth.lockout_minutes, 1, 10'080};
  keys["auth.totp_required_roles"] = StringKey{&c.auth.totp_required_roles, {}};
  keys["auth.session_idle_minutes"] = IntKey{nullptr, &c.auth.session_idle_minutes, 1, 1440};
  keys["auth.session_absolute_hours"] = IntKey{nullptr, &c.auth.session_absolute_hours, 1, 168};
  keys["auth.ip_allowlist"] = StringKey{&c.auth.ip_allowlist, {}};
  keys["auth.argon2_memory_kib"] = IntKey{nullptr, &c.auth.argon2_memory_kib, 8192, 4 << 20};
  keys["auth.argon2_iterations"] = IntKey{nullptr, &c.auth.argon2_iterations, 1, 100};
  keys["auth.argon2_parallelism"] = IntKey{nullptr, &c.auth.argon2_parallelism, 1, 16};
  keys["auth.reveal_per_hour_max"] = IntKey{nullptr, &c.auth.reveal_per_hour_max, 1, 100'000};
  keys["auth.review_interval_days"] = IntKey{nullptr, &c.auth.review_interval_days, 1, 3650};
  keys["auth.login_concurrent_max"] = IntKey{nullptr, &c.auth.login_concurrent_max, 0, 256};
  keys["auth.login_per_minute"] = IntKey{nullptr, &c.auth.login_per_minute, 1, 1'000'000};
  keys["auth.login_burst"] = IntKey{nullptr, &c.auth.login_burst, 1, 1'000'000};
  keys["auth.channel_key_days"] = IntKey{nullptr, &c.auth.channel_key_days, 1, 3650};
  keys["auth.channel_key_days_max"] = IntKey{nullptr, &c.auth.channel_key_days_max, 1, 3650};
  keys["auth.channel_key_overlap_hours"] =
      IntKey{nullptr, &c.auth.channel_key_overlap_hours, 0, 720};
  // R-AUD-3: never less than three years.
  keys["audit.retention_days"] = IntKey{nullptr, &c.audit.retention_days, 1096, 36'500};
  keys["audit.checkpoint_every_entries"] =
      IntKey{nullptr, &c.audit.checkpoint_every_entries, 1, 10'000'000};
  keys["audit.checkpoint_every_seconds"] =
      IntKey{nullptr, &c.audit.checkpoint_every_seconds, 1, 86'400};
  keys["audit.queue_max"] = IntKey{nullptr, &c.audit.queue_max, 1, 10'000'000};
  keys["audit.batch_max"] = IntKey{nullptr, &c.audit.batch_max, 1, 1'000'000};
  keys["audit.trusted_proxies"] = StringKey{&c.audit.trusted_proxies, {}};
  keys["audit.working_hours"] = StringKey{&c.audit.working_hours, {}};
  keys["audit.working_days"] = StringKey{&c.audit.working_days, {}};
  keys["audit.bulk_views_max"] = IntKey{nullptr, &c.audit.bulk_views_max, 1, 10'000'000};
  keys["audit.bulk_views_window_minutes"] =
      IntKey{nullptr, &c.audit.bulk_views_window_minutes, 1, 10'080};
  keys["audit.login_failures_max"] = IntKey{nullptr, &c.audit.login_failures_max, 1, 10'000};
  keys["audit.login_failures_window_minutes"] =
      IntKey{nullptr, &c.audit.login_failures_window_minutes, 1, 10'080};
  keys["audit.reveals_max"] = IntKey{nullptr, &c.audit.reveals_max, 1, 10'000'000};
  keys["audit.reveals_window_minutes"] =
      IntKey{nullptr, &c.audit.reveals_window_minutes, 1, 10'080};
  keys["audit.search_burst_max"] = IntKey{nullptr, &c.audit.search_burst_max, 1, 10'000'000};
  keys["audit.search_burst_window_minutes"] =
      IntKey{nullptr, &c.audit.search_burst_window_minutes, 1, 10'080};
  keys["audit.search_misses_alert_min"] =
      IntKey{nullptr, &c.audit.search_misses_alert_min, 1, 10'000'000};
  keys["audit.search_miss_ratio_percent"] =
      IntKey{nullptr, &c.audit.search_miss_ratio_percent, 1, 100};
  keys["audit.search_misses_window_minutes"] =
      IntKey{nullptr, &c.audit.search_misses_window_minutes, 1, 10'080};
  keys["audit.new_ip_alert"] = BoolKey{&c.audit.new_ip_alert};
  keys["audit.alert_webhook_url"] = StringKey{&c.audit.alert_webhook_url, {}};
  keys["tags.initial_rules_file"] = StringKey{&c.tags.initial_rules_file, {}};
  keys["tags.reclassify_batch_size"] =
      IntKey{nullptr, &c.tags.reclassify_batch_size, 100, 1'000'000};
  keys["tags.approval_expiry_days"] = IntKey{nullptr, &c.tags.approval_expiry_days, 1, 365};
  keys["jobs.enabled"] = BoolKey{&c.jobs.enabled};
  keys["jobs.reclassify"] = StringKey{&c.jobs.reclassify, {}};
  keys["jobs.backup_incremental"] = StringKey{&c.jobs.backup_incremental, {}};
  keys["jobs.backup_full"] = StringKey{&c.jobs.backup_full, {}};
  keys["jobs.restore_test"] = StringKey{&c.jobs.restore_test, {}};
  keys["backup.local_dir"] = StringKey{&c.backup.local_dir, {}};
  keys["backup.offsite_dir"] = StringKey{&c.backup.offsite_dir, {}};
  keys["backup.keep_full"] = IntKey{nullptr, &c.backup.keep_full, 1, 1000};
  keys["backup.shipping"] = BoolKey{&c.backup.shipping};
  keys["backup.shipping_interval_ms"] =
      IntKey{nullptr, &c.backup.shipping_interval_ms, 50, 60'000};
  keys["backup.chunk_bytes"] = IntKey{nullptr, &c.backup.chunk_bytes, 4096, 64 << 20};
  keys["backup.zstd_level"] = IntKey{nullptr, &c.backup.zstd_level, 1, 19};
  keys["self_service.enabled"] = BoolKey{&c.self_service.enabled};
  keys["self_service.code_ttl_seconds"] =
      IntKey{nullptr, &c.self_service.code_ttl_seconds, 30, 3600};
  keys["self_service.code_attempts_max"] =
      IntKey{nullptr, &c.self_service.code_attempts_max, 1, 20};
  keys["self_service.codes_per_customer_per_hour"] =
      IntKey{nullptr, &c.self_service.codes_per_customer_per_hour, 1, 100};
  keys["self_service.starts_per_ip_per_hour"] =
      IntKey{nullptr, &c.self_service.starts_per_ip_per_hour, 1, 100'000};
  keys["self_service.requests_per_ip_max"] =
      IntKey{nullptr, &c.self_service.requests_per_ip_max, 1, 1'000'000};
  keys["self_service.requests_window_seconds"] =
      IntKey{nullptr, &c.self_service.requests_window_seconds, 1, 3600};
  keys["search.window_minutes"] = IntKey{nullptr, &c.search.window_minutes, 1, 10'080};
  keys["search.searches_max"] = IntKey{nullptr, &c.search.searches_max, 1, 1'000'000};
  keys["search.misses_max"] = IntKey{nullptr, &c.search.misses_max, 1, 1'000'000};
  keys["search.lock_after_refused"] = IntKey{nullptr, &c.search.lock_after_refused, 1, 1'000'000};
  keys["sms.gateway"] = StringKey{&c.sms.gateway, {"outbox", "http"}};
  keys["sms.outbox_file"] = StringKey{&c.sms.outbox_file, {}};
  keys["sms.url_template"] = StringKey{&c.sms.url_template, {}};
  keys["sms.timeout_ms"] = IntKey{nullptr, &c.sms.timeout_ms, 100, 60'000};
  keys["log.level"] = StringKey{&c.log.level, {"trace", "debug", "info", "warn", "error"}};
  return keys;
}

Status BadKey(const std::string& key, const std::string& why) {
  return InvalidArgument("config key " + key + ": " + why);
}

Status SetInt(const std::string& key, const IntKey& spec, int64_t value) {
  if (value < spec.min || value > spec.max) {
    return BadKey(
        key, "must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max));
  }
  if (spec.target_wide) *spec.target_wide = value;
  if (spec.target) *spec.target = static_cast<int>(value);
  return Status::Ok();
}

Status SetString(const std::string& key, const StringKey& spec, const std::string& value) {
  if (!spec.allowed.empty() &&
      std::find(spec.allowed.begin(), spec.allowed.end(), value) == spec.allowed.end()) {
    std::string list;
    for (const std::string& a : spec.allowed) list += (list.empty() ? "" : ", ") + a;
    return BadKey(key, "must be one of: " + list);
  }
  if (value.size() > 4096) return BadKey(key, "longer than 4096 bytes");
  *spec.target = value;
  return Status::Ok();
}

Status ApplyTomlValue(const std::string& key, const KeySpec& spec, const toml::value& v) {
  if (const auto* b = std::get_if<BoolKey>(&spec)) {
    if (!v.is_boolean()) return BadKey(key, "must be true or false");
    *b->target = v.as_boolean();
    return Status::Ok();
  }
  if (const auto* i = std::get_if<IntKey>(&spec)) {
    if (!v.is_integer()) return BadKey(key, "must be an integer");
    return SetInt(key, *i, v.as_integer());
  }
  const auto& s = std::get<StringKey>(spec);
  if (!v.is_string()) return BadKey(key, "must be a string");
  return SetString(key, s, v.as_string().str);
}

Status ApplyEnvironmentValue(const std::string& key, const KeySpec& spec, const std::string& text) {
  if (const auto* b = std::get_if<BoolKey>(&spec)) {
    if (text != "true" && text != "false") return BadKey(key, "must be true or false");
    *b->target = text == "true";
    return Status::Ok();
  }
  if (const auto* i = std::get_if<IntKey>(&spec)) {
    int64_t value = 0;
    size_t used = 0;
    try {
      value = std::stoll(text, &used);
    } catch (...) {
      used = 0;
    }
    if (used == 0 || used != text.size()) return BadKey(key, "must be an integer");
    return SetInt(key, *i, value);
  }
  return SetString(key, std::get<StringKey>(spec), text);
}

std::string EnvironmentName(const std::string& key) {
  std::string name = "CUSTVAULT_";
  for (char ch : key) name += ch == '.' ? '_' : static_cast<char>(std::toupper(ch));
  return name;
}

}  // namespace

std::string Config::DataPath(const std::string& name) const {
  if (!name.empty() && name.front() == '/') return name;
  return data_dir + "/" + name;
}

Result<Config> ParseConfig(const std::string& toml_text, const std::string& data_dir,
                           const std::map<std::string, std::string>& environment) {
  Config config;
  config.data_dir = data_dir;
  const std::map<std::string, KeySpec> specs = KeySpecs(config);

  RETURN_IF_ERROR(CheckTomlInput(toml_text, "config file"));
  toml::value root;
  try {
    std::istringstream in(toml_text);
    root = toml::parse(in, "custvault.toml");
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("config file is not valid TOML: ") + e.what());
  }
  for (const auto& [section, table] : root.as_table()) {
    if (!table.is_table()) return BadKey(section, "must be a [section]");
    for (const auto& [name, value] : table.as_table()) {
      const std::string key = section + "." + name;
      const auto spec = specs.find(key);
      if (spec == specs.end()) return BadKey(key, "unknown key");
      RETURN_IF_ERROR(ApplyTomlValue(key, spec->second, value));
    }
  }
  // A CUSTVAULT_ variable that names no key is a typo (an allow-list
  // spelt CUSTVAULT_AUTH_IP_ALLOW_LIST would silently be off): it stops the
  // start, named, like an unknown key in the file. Only the few variables
  // the project's scripts and tests use for other purposes are let through.
  std::set<std::string, std::less<>> known_names;
  for (std::string_view name : kNonConfigEnvironmentNames) known_names.emplace(name);
  for (const auto& [key, spec] : specs) known_names.insert(EnvironmentName(key));
  for (const auto& [name, value] : environment) {
    if (name.rfind("CUSTVAULT_", 0) == 0 && !known_names.contains(name)) {
      const std::string shown = name.size() > 64 ? name.substr(0, 64) + "..." : name;
      return InvalidArgument("environment variable " + shown +
                             " names no configuration key (README, Configuration)");
    }
  }
  for (const auto& [key, spec] : specs) {
    const auto found = environment.find(EnvironmentName(key));
    if (found != environment.end()) {
      RETURN_IF_ERROR(ApplyEnvironmentValue(key, spec, found->second));
    }
  }
  if (config.limits.page_size_default > config.limits.page_size_max) {
    return BadKey("limits.page_size_default", "must not exceed limits.page_size_max");
  }
  if (config.server.listen.rfind(':') == std::string::npos) {
    return BadKey("server.listen", "must be HOST:PORT");
  }
  return config;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    if (entry.compare(0, 10, "CUSTVAULT_") == 0) out[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return out;
}

std::string DefaultConfigToml() {
  return R"(# custvault configuration. Every key can be overridden by an environment
# variable CUSTVAULT_SECTION_KEY, e.g. CUSTVAULT_SERVER_LISTEN=0.0.0.0:8080.
# Unknown keys are refused at start, with the key named.

[general]
utc_offset_seconds = 28800   # China Standard Time: customer ids use the local date

[server]
listen = "127.0.0.1:8080"
io_threads = 2
worker_threads = 16          # handlers wait on fsync: more than cores
worker_queue_max = 4096      # requests waiting for a worker before 503
body_bytes_max = 1048576
request_timeout_ms = 30000   # reading a request and writing its answer (not handler time)
header_timeout_ms = 10000    # a connection without a complete request header is closed
connections_per_ip_max = 64  # open connections per socket peer address
expensive_worker_threads = 2 # dry runs, rules, exports, backups, verification
expensive_queue_max = 8      # expensive requests waiting before 503

[storage]
backend = "sqlite"
sqlite_file = "custvault.db"
sqlite_readers = 4

[crypto]
profile = "default"          # "gm": SM4 for every field, SM3 for every hash
master_key_file = "master.key"

[catalog]
industry = "finance"         # finance | ecommerce | consulting | medical
id_number_mask = "first6_last6"  # "first6_last4" hides more (see docs)

[limits]
page_size_default = 20
page_size_max = 200
field_bytes_max = 4096

[auth]
password_length_min = 12
password_expiry_days = 90
password_history = 5
lockout_failures = 5
lockout_minutes = 15
totp_required_roles = "info_manager,dept_head,auditor,security_officer,sys_admin"
session_idle_minutes = 15
session_absolute_hours = 8
ip_allowlist = ""            # e.g. "10.0.0.0/8,192.168.1.0/24"; empty allows any address
login_concurrent_max = 0     # password checks at once (0: cores); more get 503 at once
login_per_minute = 10        # logins per client address (token bucket) ...
login_burst = 20             # ... with this burst; beyond it 429 + Retry-After
channel_key_days = 365       # channel API key lifetime unless expires_at is given ...
channel_key_days_max = 730   # ... and the longest allowed
channel_key_overlap_hours = 24  # the old key still works this long after a rotation

[audit]
retention_days = 1096        # never less than 3 years (R-AUD-3)
checkpoint_every_entries = 1000
checkpoint_every_seconds = 60
trusted_proxies = ""         # proxies whose X-Forwarded-For is believed
working_hours = "08:00-20:00"
working_days = "1-5"
bulk_views_max = 200
bulk_views_window_minutes = 10
login_failures_max = 5
login_failures_window_minutes = 15
reveals_max = 20
reveals_window_minutes = 10
search_burst_max = 30            # searches by one account ...
search_burst_window_minutes = 5  # ... within this window raise search_burst
search_misses_alert_min = 10     # searches that found nobody ...
search_miss_ratio_percent = 50   # ... making up this share of the account's searches ...
search_misses_window_minutes = 60  # ... within this window raise search_misses
new_ip_alert = true
alert_webhook_url = ""

[tags]
initial_rules_file = ""      # "" = the built-in rules (R-TAG-1); later changes need approval
reclassify_batch_size = 10000
approval_expiry_days = 14

[jobs]
enabled = true
reclassify = "quarterly 02:00"          # first day of Jan, Apr, Jul, Oct
backup_incremental = "daily 23:00"
backup_full = "weekly sun 03:00"
restore_test = "quarterly 04:00"

[backup]
local_dir = "backups"
offsite_dir = ""             # a second location, e.g. a mounted remote file system
keep_full = 4
shipping = true              # continuous shipping of committed changes to offsite_dir
shipping_interval_ms = 500

[self_service]
enabled = true
code_ttl_seconds = 300
code_attempts_max = 5
codes_per_customer_per_hour = 5
starts_per_ip_per_hour = 30
requests_per_ip_max = 60     # requests to any self-service endpoint per client address ...
requests_window_seconds = 60 # ... per window; refusals are audited as one summary per window

[search]
# Exact search by a protected value confirms a guess (docs/access-control.md).
window_minutes = 60
searches_max = 60            # searches per account per window ...
misses_max = 20              # ... of which at most this many find nobody
lock_after_refused = 10      # attempts past the budget that lock the account's search

[sms]
gateway = "outbox"           # "outbox" (a file) or "http"
outbox_file = "sms-outbox.jsonl"
url_template = ""            # for "http": e.g. "https://sms.example/send?to={phone}&text={message}"

[log]
level = "info"
)";
}

}  // namespace custvault
