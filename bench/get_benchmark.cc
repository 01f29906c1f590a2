// get_benchmark: what auditing costs a masked get by id (R-AUD-5), at the
// service level, in ONE run on ONE database.
//
// It creates a scratch data directory (custvault init), opens the Vault,
// imports N generated valid customers as a staff information manager, then
// for each thread count T drives CustomerService::Get on uniformly random
// ids for a fixed time twice:
//   audited:   vault.customers(), whose every Get appends an audit entry
//              and waits until the group-committed batch holding it is
//              durable (fsync) before it returns;
//   unaudited: a second CustomerService over the same env, config,
//              catalog, keyring, store and accounts, whose AuditRecorder
//              does nothing.
// Both run the same policy check, SQLite read, customer key unwrap, field
// decryption and masking; the difference is the audit entry. The two are
// run alternately (unaudited first) so that the page cache is warm for both.
//
//   get_benchmark [--customers 20000] [--threads 2,64] [--seconds 5]
//                 [--data-dir D] [--keep]
//
// Output: a human summary on stderr and one JSON object on stdout
// (scripts/bench reads it).
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/customer_data_generator.h"
#include "common/config.h"
#include "common/env.h"
#include "service/vault.h"

namespace custvault::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kListPage = 500;
constexpr int kThreadsMax = 1024;
constexpr int64_t kCustomersMax = 10'000'000;

// Records nothing: what a Get costs without its audit entry.
class NoAuditRecorder final : public service::AuditRecorder {
 public:
  Result<int64_t> Record(const service::Actor&, std::string_view, std::string_view,
                         std::string_view, boost::json::object) override {
    return int64_t{0};
  }
  Result<store::AuditEntryRow> PrepareEntry(const service::Actor& actor, std::string_view operation,
                                            std::string_view customer_id, std::string_view result,
                                            boost::json::object) override {
    store::AuditEntryRow row;
    row.actor_id = actor.id;
    row.operation = std::string(operation);
    row.customer_id = std::string(customer_id);
    row.result = std::string(result);
    row.details = "{}";
    return row;
  }
  Result<int64_t> RecordCommitted(const store::AuditOutboxEntry&) override { return int64_t{0}; }
};

struct RunResult {
  int threads = 0;
  bool audited = false;
  int64_t gets = 0;
  int64_t failures = 0;
  double seconds = 0;
  double p50_us = 0;
  double p99_us = 0;
  // Audited runs: the audit log's group commits during the run (one fsync
  // each), so entries per fsync and the time per batch show the bound.
  int64_t audit_entries = 0;
  int64_t audit_batches = 0;
  double per_second() const { return seconds > 0 ? static_cast<double>(gets) / seconds : 0; }
};

double Quantile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
}

RunResult Drive(service::CustomerService& customers, const service::Actor& actor,
                const std::vector<std::string>& ids, int threads, double seconds, bool audited) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> failures{0};
  std::vector<std::vector<double>> latencies(threads);
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 random(1129 + static_cast<uint64_t>(t));
      std::uniform_int_distribution<size_t> pick(0, ids.size() - 1);
      std::vector<double>& mine = latencies[t];
      mine.reserve(1 << 16);
      while (!stop.load(std::memory_order_relaxed)) {
        const auto before = Clock::now();
        Result<service::CustomerView> view = customers.Get(actor, ids[pick(random)]);
        const auto after = Clock::now();
        if (!view.ok()) {
          failures.fetch_add(1);
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::micro>(after - before).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (std::thread& w : workers) w.join();
  RunResult result;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.threads = threads;
  result.audited = audited;
  result.failures = failures.load();
  std::vector<double> all;
  for (const auto& mine : latencies) all.insert(all.end(), mine.begin(), mine.end());
  std::sort(all.begin(), all.end());
  result.gets = static_cast<int64_t>(all.size());
  result.p50_us = Quantile(all, 0.50);
  result.p99_us = Quantile(all, 0.99);
  return result;
}

int Fail(const std::string& what, const Status& status) {
  std::cerr << "get_benchmark: " << what << ": " << status.ToString() << "\n";
  return 1;
}

struct Options {
  int64_t customers = 20'000;
  std::vector<int> threads = {2, 64};
  double seconds = 5;
  std::string data_dir;
  bool keep = false;
};

int Run(const Options& options) {
  std::string data_dir = options.data_dir;
  if (data_dir.empty()) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "custvault-get-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    data_dir = pattern + "/data";
  } else if (std::filesystem::exists(data_dir)) {
    std::cerr << "get_benchmark: " << data_dir << " exists; give a path that does not\n";
    return 1;
  }
  const std::string scratch_root =
      options.data_dir.empty() ? std::filesystem::path(data_dir).parent_path().string() : data_dir;

  Env* env = Env::Default();
  const std::map<std::string, std::string> environment = ProcessEnvironment();
  Result<service::InitResult> init = service::InitDataDirectory(env, data_dir, environment);
  if (!init.ok()) return Fail("init", init.status());
  Result<std::unique_ptr<service::Vault>> opened = service::Vault::Open(env, data_dir, environment);
  if (!opened.ok()) return Fail("open", opened.status());
  service::Vault& vault = **opened;

  // Authentication is not part of what is measured: the service is called
  // as an information manager directly.
  service::Actor actor;
  actor.kind = service::ActorKind::kStaff;
  actor.role = service::Role::kInfoManager;
  actor.id = "bench";
  actor.ip = "127.0.0.1";

  // ---- seed ----
  const auto seed_start = Clock::now();
  CustomerDataGenerator generator(20261129);
  constexpr int64_t kRowsPerCall = 10'000;
  for (int64_t done = 0; done < options.customers;) {
    const int64_t count = std::min(kRowsPerCall, options.customers - done);
    std::vector<service::FieldValues> rows;
    rows.reserve(count);
    for (int64_t i = 0; i < count; ++i) rows.push_back(generator.NextCustomer());
    Result<service::ImportOutcome> outcome = vault.customers().Import(actor, rows);
    if (!outcome.ok()) return Fail("import", outcome.status());
    done += count;
  }
  std::vector<std::string> ids;
  ids.reserve(options.customers);
  std::optional<std::string> cursor;
  do {
    Result<store::CustomerPage> page = vault.store().ListCustomers(std::nullopt, cursor, kListPage);
    if (!page.ok()) return Fail("list", page.status());
    for (const store::CustomerRecord& record : page->items) ids.push_back(record.id);
    cursor = page->next_cursor;
  } while (cursor);
  const double seed_seconds = std::chrono::duration<double>(Clock::now() - seed_start).count();
  if (ids.empty()) {
    std::cerr << "get_benchmark: no customers were stored\n";
    return 1;
  }
  std::fprintf(stderr, "get_benchmark: %zu customers seeded in %.1f s (crypto profile %s)\n",
               ids.size(), seed_seconds, vault.config().crypto.profile.c_str());

  NoAuditRecorder no_audit;
  service::CustomerService unaudited(env, vault.config(), vault.catalog(), vault.keyring(),
                                     vault.store(), vault.accounts(), no_audit);

  // Warm-up: the page cache and SQLite's caches, unmeasured.
  Drive(unaudited, actor, ids, 2, 1.0, false);

  std::vector<std::pair<RunResult, RunResult>> pairs;  // (unaudited, audited)
  for (int threads : options.threads) {
    RunResult plain = Drive(unaudited, actor, ids, threads, options.seconds, false);
    const audit::AuditLogStats before = vault.audit().log().stats();
    RunResult audited = Drive(vault.customers(), actor, ids, threads, options.seconds, true);
    const audit::AuditLogStats after = vault.audit().log().stats();
    audited.audit_entries = after.entries - before.entries;
    audited.audit_batches = after.batches - before.batches;
    pairs.emplace_back(plain, audited);
    const double ratio = plain.per_second() > 0 ? audited.per_second() / plain.per_second() : 0;
    std::fprintf(stderr,
                 "get_benchmark: %3d threads  without audit %8.0f gets/s (p50 %.0f us, p99 %.0f "
                 "us)  with audit %8.0f gets/s (p50 %.0f us, p99 %.0f us)  audited/unaudited "
                 "%.0f%%  failures %lld/%lld  audit batches %lld (%.1f entries per fsync)\n",
                 threads, plain.per_second(), plain.p50_us, plain.p99_us, audited.per_second(),
                 audited.p50_us, audited.p99_us, 100 * ratio,
                 static_cast<long long>(plain.failures), static_cast<long long>(audited.failures),
                 static_cast<long long>(audited.audit_batches),
                 audited.audit_batches > 0 ? static_cast<double>(audited.audit_entries) /
                                                 static_cast<double>(audited.audit_batches)
                                           : 0.0);
  }

  Result<int64_t> audit_entries = vault.audit().log().store().EntryCount();
  opened->reset();
  if (!options.keep) {
    std::error_code ec;
    std::filesystem::remove_all(scratch_root, ec);
  }

  std::printf("{\"customers\": %zu, \"seed_seconds\": %.3f, \"seconds_per_run\": %.3f, \"runs\": [",
              ids.size(), seed_seconds, options.seconds);
  bool first = true;
  for (const auto& [plain, audited] : pairs) {
    for (const RunResult* r : {&plain, &audited}) {
      std::printf("%s{\"threads\": %d, \"audited\": %s, \"gets\": %lld, \"failures\": %lld, "
                  "\"seconds\": %.3f, \"gets_per_second\": %.1f, \"p50_us\": %.1f, "
                  "\"p99_us\": %.1f, \"audit_entries\": %lld, \"audit_batches\": %lld}",
                  first ? "" : ", ", r->threads, r->audited ? "true" : "false",
                  static_cast<long long>(r->gets), static_cast<long long>(r->failures), r->seconds,
                  r->per_second(), r->p50_us, r->p99_us, static_cast<long long>(r->audit_entries),
                  static_cast<long long>(r->audit_batches));
      first = false;
    }
  }
  std::printf("], \"audit_entries\": %lld}\n",
              static_cast<long long>(audit_entries.ok() ? *audit_entries : -1));
  int64_t total_failures = 0;
  for (const auto& [plain, audited] : pairs) total_failures += plain.failures + audited.failures;
  return total_failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace custvault::bench

int main(int argc, char** argv) {
  custvault::bench::Options options;
  CLI::App app{"service-level masked get by id, with and without auditing"};
  app.add_option("--customers", options.customers)
      ->check(CLI::Range(int64_t{1}, custvault::bench::kCustomersMax));
  app.add_option("--threads", options.threads)
      ->delimiter(',')
      ->check(CLI::Range(1, custvault::bench::kThreadsMax));
  app.add_option("--seconds", options.seconds)->check(CLI::Range(0.1, 600.0));
  app.add_option("--data-dir", options.data_dir);
  app.add_flag("--keep", options.keep);
  CLI11_PARSE(app, argc, argv);
  return custvault::bench::Run(options);
}
