// import_benchmark: service-level bulk import of generated, valid customers
// through CustomerService::Import, in a scratch data directory that it
// creates (custvault init) and removes afterwards.
//
// What is timed: only the CustomerService::Import calls (validation,
// customer key creation and wrapping, field encryption, blind indexes and
// the SQLite batch inserts). Each batch's rows are generated BEFORE its
// Import call and outside the timed part; generation time is reported on
// its own line and is not in customers/s.
//
// Customer ids are "C" + YYYYMMDD + 6 random digits, so one calendar day has
// at most 10^6 ids and collisions rise as a day fills. The benchmark's Env
// therefore moves its clock forward one day every --ids-per-day imported
// customers (default 10,000, so 1,000,000 customers spread over 100 days);
// --ids-per-day 0 keeps every customer on one day, to measure that wall.
//
// Output: a progress line on stderr about every 5%, a human summary on
// stderr, and one JSON object on stdout (scripts/bench reads it).
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "bench/customer_data_generator.h"
#include "common/config.h"
#include "common/env.h"
#include "crypto/keyring.h"
#include "service/vault.h"

namespace custvault::bench {
namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000LL;
constexpr size_t kIdDrawBytes = 4;  // CustomerService::NewCustomerId asks for 4 bytes

// The real environment, except that the clock is the real clock plus a
// whole number of days the benchmark sets, and that random requests are
// counted by size: a 4-byte request is one customer id draw, a
// crypto::kCustomerKeyBytes one is one new customer key. That tells id
// retries apart without touching the service.
class DaySteppingEnv final : public Env {
 public:
  void SetDayOffset(int64_t days) { day_offset_.store(days); }
  int64_t id_draws() const { return id_draws_.load(); }

  int64_t NowMicros() override {
    return Env::Default()->NowMicros() + day_offset_.load() * kMicrosPerDay;
  }
  Status RandomBytes(std::span<uint8_t> out) override {
    if (out.size() == kIdDrawBytes) {
      id_draws_.fetch_add(1);
    }
    return Env::Default()->RandomBytes(out);
  }
  Result<std::string> ReadFile(const std::string& path) override {
    return Env::Default()->ReadFile(path);
  }
  Status WriteFileAtomic(const std::string& path, std::string_view data, int mode,
                         bool exclusive) override {
    return Env::Default()->WriteFileAtomic(path, data, mode, exclusive);
  }
  Result<int> FileMode(const std::string& path) override { return Env::Default()->FileMode(path); }
  bool FileExists(const std::string& path) override { return Env::Default()->FileExists(path); }
  Status RemoveFile(const std::string& path) override { return Env::Default()->RemoveFile(path); }
  Status CreateDirectories(const std::string& path, int mode) override {
    return Env::Default()->CreateDirectories(path, mode);
  }

 private:
  std::atomic<int64_t> day_offset_{0};
  std::atomic<int64_t> id_draws_{0};
};

struct Options {
  int64_t customers = 1'000'000;
  int batch = 5000;
  int64_t rows_per_call = 10'000;
  int seal_threads = 2;
  int64_t ids_per_day = 10'000;
  std::string data_dir;
  bool keep = false;
  uint64_t seed = 20261129;
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int64_t FileBytes(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

int64_t PeakRssKib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

int Fail(const std::string& what, const Status& status) {
  std::cerr << "import_benchmark: " << what << ": " << status.ToString() << "\n";
  return 1;
}

int Run(const Options& options) {
  std::string data_dir = options.data_dir;
  if (data_dir.empty()) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "custvault-import-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    data_dir = pattern + "/data";
  } else if (std::filesystem::exists(data_dir)) {
    std::cerr << "import_benchmark: " << data_dir
              << " exists; give a path that does not (it is removed afterwards)\n";
    return 1;
  }
  const std::string scratch_root =
      options.data_dir.empty() ? std::filesystem::path(data_dir).parent_path().string() : data_dir;

  DaySteppingEnv env;
  const std::map<std::string, std::string> environment = ProcessEnvironment();
  Result<service::InitResult> init = service::InitDataDirectory(&env, data_dir, environment);
  if (!init.ok()) return Fail("init", init.status());
  Result<std::unique_ptr<service::Vault>> vault = service::Vault::Open(&env, data_dir, environment);
  if (!vault.ok()) return Fail("open", vault.status());
  service::CustomerService& customers = (*vault)->customers();
  const std::string db_path = (*vault)->config().DataPath((*vault)->config().storage.sqlite_file);

  // The service is called as an information manager (the role that may
  // import); authentication is not part of what is measured.
  service::Actor actor;
  actor.kind = service::ActorKind::kStaff;
  actor.role = service::Role::kInfoManager;
  actor.id = "import_benchmark";
  actor.ip = "127.0.0.1";

  std::cerr << "import_benchmark: " << options.customers << " customers, batch " << options.batch
            << ", "
            << (options.ids_per_day > 0 ? std::to_string(options.ids_per_day) + " per calendar day"
                                        : std::string("all on ONE calendar day"))
            << ", crypto profile " << (*vault)->config().crypto.profile << ", data dir " << data_dir
            << "\n";

  CustomerDataGenerator generator(options.seed);
  double import_seconds = 0;
  double generate_seconds = 0;
  int64_t imported = 0;
  int64_t refused = 0;
  int64_t failed_batches = 0;
  int64_t rows_in_failed_batches = 0;
  int64_t batches = 0;
  int64_t batches_with_late_draws = 0;
  std::string first_failure;
  ErrorCode first_failure_code = ErrorCode::kOk;
  int64_t next_progress = 0;
  const int64_t progress_step = std::max<int64_t>(1, options.customers / 20);
  const auto wall_start = std::chrono::steady_clock::now();

  std::vector<double> batch_seconds;
  std::vector<std::map<std::string, std::string>> rows;
  for (int64_t done = 0; done < options.customers;) {
    int64_t count = std::min<int64_t>(options.rows_per_call, options.customers - done);
    if (options.ids_per_day > 0) {
      env.SetDayOffset(done / options.ids_per_day);
      count = std::min<int64_t>(count, options.ids_per_day - done % options.ids_per_day);
    }

    const auto generate_start = std::chrono::steady_clock::now();
    rows.clear();
    rows.reserve(count);
    for (int64_t i = 0; i < count; ++i) rows.push_back(generator.NextCustomer());
    generate_seconds += SecondsSince(generate_start);

    const int64_t draws_before = env.id_draws();
    const auto import_start = std::chrono::steady_clock::now();
    Result<service::ImportOutcome> outcome = customers.Import(
        actor, rows,
        service::ImportOptions{.batch_size = options.batch, .seal_threads = options.seal_threads});
    batch_seconds.push_back(SecondsSince(import_start));
    import_seconds += batch_seconds.back();
    ++batches;
    // More id draws than rows: some ids were redrawn (found taken in bulk
    // before sealing, or after a conflict at insert).
    if (env.id_draws() - draws_before > count) ++batches_with_late_draws;
    if (outcome.ok()) {
      imported += outcome->imported;
      refused += static_cast<int64_t>(outcome->refused.size());
    } else {
      // The batch gave up (e.g. no free id today); some of its rows may
      // have been written one by one before it did: counted below from
      // the database itself.
      ++failed_batches;
      rows_in_failed_batches += count;
      if (first_failure.empty()) {
        first_failure = outcome.status().ToString();
        first_failure_code = outcome.status().code();
      }
    }
    done += count;
    if (done >= next_progress || done == options.customers) {
      const double rate = import_seconds > 0 ? static_cast<double>(imported) / import_seconds : 0;
      std::fprintf(stderr,
                   "import_benchmark: %3d%%  %lld/%lld imported  %.0f customers/s (timed part)  "
                   "%.1f s wall  rss %lld MiB\n",
                   static_cast<int>(100 * done / options.customers),
                   static_cast<long long>(imported), static_cast<long long>(options.customers),
                   rate, SecondsSince(wall_start), static_cast<long long>(PeakRssKib() / 1024));
      next_progress += progress_step;
    }
  }
  const double wall_seconds = SecondsSince(wall_start);

  Result<int64_t> stored = (*vault)->store().CountCustomers();
  if (!stored.ok()) return Fail("count", stored.status());
  const int64_t db_bytes_open = FileBytes(db_path) + FileBytes(db_path + "-wal");
  const std::string crypto_profile = (*vault)->config().crypto.profile;
  vault->reset();  // closes the database (and checkpoints the WAL)
  const int64_t db_bytes = FileBytes(db_path);
  const int64_t wal_bytes = FileBytes(db_path + "-wal");
  const int64_t peak_rss_kib = PeakRssKib();
  const int64_t id_retries = env.id_draws() - (*stored);

  const double rate = import_seconds > 0 ? static_cast<double>(*stored) / import_seconds : 0;
  std::sort(batch_seconds.begin(), batch_seconds.end());
  auto batch_quantile_ms = [&](double q) {
    return batch_seconds.empty()
               ? 0.0
               : 1000 * batch_seconds[static_cast<size_t>(q * (batch_seconds.size() - 1))];
  };
  std::fprintf(stderr,
               "import_benchmark: %lld customers stored (%lld refused by validation, %lld batches "
               "failed)\n"
               "  import (timed)      %.2f s  -> %.0f customers/s\n"
               "  generation (untimed) %.2f s; wall %.2f s\n"
               "  id draws %lld (retries %lld); Import calls that redrew ids: %lld of %lld\n"
               "  time per Import call: p50 %.0f ms, p90 %.0f ms, max %.0f ms\n"
               "  peak RSS %.1f MiB; database %.1f MiB (+ WAL %.1f MiB; %.1f MiB with WAL while "
               "open)\n",
               static_cast<long long>(*stored), static_cast<long long>(refused),
               static_cast<long long>(failed_batches), import_seconds, rate, generate_seconds,
               wall_seconds, static_cast<long long>(env.id_draws()),
               static_cast<long long>(id_retries), static_cast<long long>(batches_with_late_draws),
               static_cast<long long>(batches), batch_quantile_ms(0.5), batch_quantile_ms(0.9),
               batch_quantile_ms(1.0), peak_rss_kib / 1024.0, db_bytes / 1048576.0,
               wal_bytes / 1048576.0, db_bytes_open / 1048576.0);
  if (!first_failure.empty()) std::cerr << "  first failure: " << first_failure << "\n";

  std::printf(
      "{\"customers_requested\":%lld,\"customers_stored\":%lld,\"refused\":%lld,"
      "\"failed_batches\":%lld,\"rows_in_failed_batches\":%lld,\"batch\":%d,\"ids_per_day\":%lld,"
      "\"import_seconds\":%.3f,\"customers_per_second\":%.1f,\"generate_seconds\":%.3f,"
      "\"wall_seconds\":%.3f,\"id_draws\":%lld,\"id_retries\":%lld,\"batches\":%lld,"
      "\"batches_with_conflict_redraws\":%lld,\"batch_ms_p50\":%.1f,\"batch_ms_p90\":%.1f,"
      "\"batch_ms_max\":%.1f,\"peak_rss_kib\":%lld,\"db_bytes\":%lld,"
      "\"wal_bytes\":%lld,\"db_bytes_while_open\":%lld,\"crypto_profile\":\"%s\","
      "\"first_failure_code\":\"%s\"}\n",
      static_cast<long long>(options.customers), static_cast<long long>(*stored),
      static_cast<long long>(refused), static_cast<long long>(failed_batches),
      static_cast<long long>(rows_in_failed_batches), options.batch,
      static_cast<long long>(options.ids_per_day), import_seconds, rate, generate_seconds,
      wall_seconds, static_cast<long long>(env.id_draws()), static_cast<long long>(id_retries),
      static_cast<long long>(batches), static_cast<long long>(batches_with_late_draws),
      batch_quantile_ms(0.5), batch_quantile_ms(0.9), batch_quantile_ms(1.0),
      static_cast<long long>(peak_rss_kib), static_cast<long long>(db_bytes),
      static_cast<long long>(wal_bytes), static_cast<long long>(db_bytes_open),
      crypto_profile.c_str(), std::string(ErrorCodeName(first_failure_code)).c_str());

  if (!options.keep) {
    std::error_code ec;
    std::filesystem::remove_all(scratch_root, ec);
    if (ec) std::cerr << "import_benchmark: could not remove " << scratch_root << "\n";
  } else {
    std::cerr << "import_benchmark: kept " << data_dir << "\n";
  }
  return failed_batches == 0 && refused == 0 ? 0 : 1;
}

}  // namespace
}  // namespace custvault::bench

int main(int argc, char** argv) {
  custvault::bench::Options options;
  CLI::App app{"Bulk import benchmark: CustomerService::Import of generated valid customers"};
  app.add_option("--customers", options.customers, "Customers to import")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app.add_option("--batch", options.batch, "Rows per store transaction")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  app.add_option("--rows-per-call", options.rows_per_call,
                 "Rows per Import call (each call writes them in --batch transactions, pipelined)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  app.add_option("--seal-threads", options.seal_threads, "Threads encrypting a batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--ids-per-day", options.ids_per_day,
                 "Customers per calendar day before the clock moves a day; 0 = one day only")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000}));
  app.add_option("--data-dir", options.data_dir,
                 "Scratch data directory to create and remove (default: a new folder in $TMPDIR)");
  app.add_flag("--keep", options.keep, "Keep the data directory afterwards");
  app.add_option("--seed", options.seed, "Seed of the data generator")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return custvault::bench::Run(options);
}
