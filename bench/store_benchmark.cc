// store_benchmark: the SQLite store's own write and read rates (R-SCALE-1,
// R-PIPL-4), the figures SqliteStoreTest used to assert as floors (issue
// 11.12: a floor in a test fails at random on a busy machine; tests assert
// behaviour, this reports figures).
//
//   1. Bulk insert: --customers customers (8 fields of 40-80 random bytes,
//      4 blind indexes, 2 tags, a wrapped key) through InsertCustomers in
//      batches of --batch. Reported: rows/s by wall time and by this
//      thread's CPU time (wall includes the fsyncs of synchronous=FULL and
//      whatever else the machine runs; CPU is what the store itself costs).
//   2. Get by id: --gets GetCustomer calls over those customers.
//   3. Single-row inserts (one transaction and fsync each), from 1 thread
//      and from --threads threads at once (group commit), --singles rows each.
//
// The store never looks inside envelopes, so random bytes stand in for
// them (encryption is crypto_benchmark's and import_benchmark's subject).
// One JSON object on stdout, a human summary on stderr. The database is
// removed unless --keep.
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_store.h"

namespace custvault::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

double ThreadCpuSeconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

int Fail(const Status& status, const char* what) {
  std::cerr << "store_benchmark: " << what << ": " << status.ToString() << "\n";
  return 1;
}

store::CustomerRecord SingleCustomer(const std::string& id) {
  store::CustomerRecord record;
  record.id = id;
  record.status = "active";
  record.channel = "staff:clerk1";
  record.created_at_us = record.updated_at_us = 1735689600000000;
  record.kek_version = 1;
  record.wrapped_key = std::string(60, 'k') + id;
  record.fields = {{"name", "env-name-" + id}, {"phone", "env-phone-" + id}};
  record.blind_indexes = {{"name", std::string(32, 'n') + id}, {"phone", std::string(32, 'p') + id}};
  record.tags = {{"value_tier", "ordinary"}, {"risk", "low"}};
  return record;
}

int Run(int argc, char** argv) {
  CLI::App app{"SQLite store: bulk insert, get by id and single-row commit rates"};
  std::string dir;
  int customers = 20'000;
  int batch = 5'000;
  int gets = 5'000;
  int singles = 200;
  int threads = 16;
  bool keep = false;
  app.add_option("--dir", dir, "Directory for the database (default: a new temporary one)");
  app.add_option("--customers", customers, "Customers bulk-inserted")->check(CLI::Range(1, 10'000'000));
  app.add_option("--batch", batch, "Customers per InsertCustomers call")->check(CLI::Range(1, 100'000));
  app.add_option("--gets", gets, "GetCustomer calls")->check(CLI::Range(0, 10'000'000));
  app.add_option("--singles", singles, "Single-row inserts per thread")->check(CLI::Range(0, 1'000'000));
  app.add_option("--threads", threads, "Writer threads of the concurrent single-row run")
      ->check(CLI::Range(1, 256));
  app.add_flag("--keep", keep, "Keep the database");
  CLI11_PARSE(app, argc, argv);

  bool made_dir = false;
  if (dir.empty()) {
    std::string pattern = (fs::temp_directory_path() / "cv_store_bench_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::cerr << "store_benchmark: cannot create a temporary directory\n";
      return 1;
    }
    dir = pattern;
    made_dir = true;
  }
  const std::string path = (fs::path(dir) / "custvault.db").string();
  auto opened = store::sqlite::SqliteStore::Open({.path = path, .readers = 4});
  if (!opened.ok()) return Fail(opened.status(), "open");
  store::sqlite::SqliteStore& db = **opened;

  // Generation is outside the timing.
  std::mt19937_64 random(7);
  auto envelope = [&random](size_t size) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    return bytes;
  };
  std::vector<std::vector<store::CustomerRecord>> batches;
  std::vector<std::string> ids;
  for (int start = 0; start < customers; start += batch) {
    std::vector<store::CustomerRecord> rows;
    for (int i = start; i < std::min(customers, start + batch); ++i) {
      store::CustomerRecord record;
      char id[32];
      std::snprintf(id, sizeof id, "C202501%02d%06d", 1 + i / 1'000'000, i % 1'000'000);
      record.id = id;
      record.status = "active";
      record.channel = "channel:import";
      record.created_at_us = record.updated_at_us = 1735689600000000 + i;
      record.kek_version = 1;
      record.wrapped_key = envelope(60);
      for (const char* field : {"name", "id_number", "phone", "address", "bank_account",
                                "credit_rating", "consumption_frequency", "purchase_preference"}) {
        record.fields[field] = envelope(40 + random() % 40);
      }
      for (const char* field : {"name", "id_number", "phone", "bank_account"})
        record.blind_indexes[field] = envelope(32);
      record.tags = {{"value_tier", "ordinary"}, {"risk", "low"}};
      ids.push_back(record.id);
      rows.push_back(std::move(record));
    }
    batches.push_back(std::move(rows));
  }

  const auto bulk_start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  for (const auto& rows : batches) {
    if (Status status = db.InsertCustomers(rows); !status.ok()) return Fail(status, "bulk insert");
  }
  const double bulk_cpu = ThreadCpuSeconds() - cpu_start;
  const double bulk_seconds = Seconds(bulk_start, Clock::now());

  const auto get_start = Clock::now();
  for (int i = 0; i < gets; ++i) {
    auto got = db.GetCustomer(ids[(static_cast<size_t>(i) * 7919) % ids.size()]);
    if (!got.ok()) return Fail(got.status(), "get by id");
  }
  const double get_seconds = Seconds(get_start, Clock::now());

  // Single-row inserts from `writers` threads at once; returns seconds.
  std::atomic<int> failures{0};
  auto singles_run = [&](int writers, const std::string& prefix) {
    std::vector<std::thread> workers;
    const auto start = Clock::now();
    for (int t = 0; t < writers; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; i < singles; ++i) {
          const std::string id = prefix + std::to_string(t) + "-" + std::to_string(i);
          if (!db.InsertCustomer(SingleCustomer(id)).ok()) ++failures;
        }
      });
    }
    for (auto& worker : workers) worker.join();
    return Seconds(start, Clock::now());
  };
  const double one_seconds = singles_run(1, "one-");
  const double many_seconds = singles_run(threads, "many-");
  if (failures > 0) {
    std::cerr << "store_benchmark: " << failures.load() << " single-row inserts failed\n";
    return 1;
  }
  auto count = db.CountCustomers();
  if (!count.ok()) return Fail(count.status(), "count");
  const int64_t expected = customers + int64_t{singles} * (1 + threads);
  if (*count != expected) {
    std::cerr << "store_benchmark: " << *count << " customers stored, " << expected << " expected\n";
    return 1;
  }

  auto rate = [](double n, double seconds) { return seconds > 0 ? n / seconds : 0.0; };
  std::fprintf(stderr,
               "bulk insert: %d customers (8 fields, 4 blind indexes, 2 tags), batches of %d: "
               "%.3f s wall = %.0f rows/s; %.3f s CPU = %.0f rows/CPU-s\n"
               "get by id (row + key + indexes + tags): %d in %.3f s = %.0f gets/s\n"
               "single-row inserts, 1 thread: %d in %.3f s = %.0f commits/s\n"
               "single-row inserts, %d threads: %d in %.3f s = %.0f commits/s\n",
               customers, batch, bulk_seconds, rate(customers, bulk_seconds), bulk_cpu,
               rate(customers, bulk_cpu), gets, get_seconds, rate(gets, get_seconds), singles,
               one_seconds, rate(singles, one_seconds), threads, singles * threads, many_seconds,
               rate(singles * threads, many_seconds));
  std::printf(
      "{\"customers\":%d,\"batch\":%d,\"bulk_seconds\":%.6f,\"bulk_rows_per_second\":%.1f,"
      "\"bulk_cpu_seconds\":%.6f,\"bulk_rows_per_cpu_second\":%.1f,\"gets\":%d,"
      "\"gets_per_second\":%.1f,\"singles_per_thread\":%d,\"single_thread_commits_per_second\":%.1f,"
      "\"threads\":%d,\"concurrent_commits_per_second\":%.1f}\n",
      customers, batch, bulk_seconds, rate(customers, bulk_seconds), bulk_cpu,
      rate(customers, bulk_cpu), gets, rate(gets, get_seconds), singles,
      rate(singles, one_seconds), threads, rate(singles * threads, many_seconds));

  opened->reset();
  if (made_dir && !keep) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  } else {
    std::cerr << "database kept in " << path << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace custvault::bench

int main(int argc, char** argv) { return custvault::bench::Run(argc, argv); }
