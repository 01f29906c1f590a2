// backup_benchmark: full backup and restore throughput of a vault with N
// generated customers (R-BAK-1, R-BAK-2), and the size of an incremental
// backup against the number of customers changed since the previous one.
//
// Steps, in a scratch data directory it creates and removes:
//   1. import N customers (CustomerService::Import, as import_benchmark);
//   2. full backup #1 (the journal still holds the import: the snapshot
//      copies it and empties it in the copy), then the journal is pruned;
//   3. full backup #2 (the steady state: journal pruned), timed with its
//      snapshot and piece-writing phases apart;
//   4. restore of backup #2 into a new directory (timed; the restore
//      includes the audit chain verification);
//   5. for each K in --updates: K customers' phone changed (8 threads through
//      the group commit), then an incremental backup: its bytes and rows.
// Throughput is reported against the database size (custvault.db +
// audit.db as the snapshot copies them), in MB/s (10^6 bytes).
//
// Output: progress and a human summary on stderr, one JSON object on stdout.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include <boost/json.hpp>

#include "backup/backup_engine.h"
#include "backup/restore.h"
#include "bench/customer_data_generator.h"
#include "common/config.h"
#include "common/env.h"
#include "service/vault.h"

namespace custvault::bench {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int64_t kMicrosPerDay = 86'400'000'000LL;

// The real clock plus whole days, so 10,000 new customer ids per calendar day
// (ids are C + date + 6 digits), as import_benchmark does.
class DaySteppingEnv final : public Env {
 public:
  void SetDayOffset(int64_t days) { day_offset_.store(days); }
  int64_t NowMicros() override {
    return Env::Default()->NowMicros() + day_offset_.load() * kMicrosPerDay;
  }
  Status RandomBytes(std::span<uint8_t> out) override { return Env::Default()->RandomBytes(out); }
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
};

struct Options {
  int64_t customers = 100'000;
  std::vector<int64_t> updates = {100, 1000, 10000};
  int threads = 2;
  int chunk_bytes = 4 << 20;
  int zstd_level = 3;
  std::string profile = "default";
  std::string dir;
  bool keep = false;
  uint64_t seed = 20261129;
};

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int64_t Bytes(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

int Fail(const std::string& what, const Status& status) {
  std::cerr << "backup_benchmark: " << what << ": " << status.ToString() << "\n";
  return 1;
}

double Mbps(int64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0;
}

int Run(const Options& options) {
  std::string root = options.dir;
  if (root.empty()) {
    std::string pattern = (fs::temp_directory_path() / "custvault-backup-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    root = pattern;
  }
  const std::string data_dir = root + "/data";
  const std::string location = root + "/backups";
  DaySteppingEnv env;
  std::map<std::string, std::string> environment = ProcessEnvironment();
  environment["CUSTVAULT_CRYPTO_PROFILE"] = options.profile;
  Result<service::InitResult> init = service::InitDataDirectory(&env, data_dir, environment);
  if (!init.ok()) return Fail("init", init.status());
  Result<std::unique_ptr<service::Vault>> opened = service::Vault::Open(&env, data_dir, environment);
  if (!opened.ok()) return Fail("open", opened.status());
  service::Vault& vault = **opened;
  service::Actor actor;
  actor.kind = service::ActorKind::kStaff;
  actor.role = service::Role::kInfoManager;
  actor.id = "backup_benchmark";
  actor.ip = "127.0.0.1";

  // 1. Import.
  CustomerDataGenerator generator(options.seed);
  std::vector<std::string> ids;
  const auto import_start = std::chrono::steady_clock::now();
  for (int64_t done = 0; done < options.customers;) {
    env.SetDayOffset(done / 10'000);
    const int64_t count = std::min<int64_t>(10'000 - done % 10'000, options.customers - done);
    std::vector<std::map<std::string, std::string>> rows;
    for (int64_t i = 0; i < count; ++i) rows.push_back(generator.NextCustomer());
    Result<service::ImportOutcome> outcome = vault.customers().Import(actor, rows);
    if (!outcome.ok()) return Fail("import", outcome.status());
    done += count;
    if (done % 100'000 == 0 || done == options.customers) {
      std::fprintf(stderr, "backup_benchmark: imported %lld (%.0f s)\n", static_cast<long long>(done),
                   Since(import_start));
    }
  }
  env.SetDayOffset(options.customers / 10'000 + 1);
  {
    std::optional<std::string> cursor;
    while (true) {
      Result<store::CustomerPage> page = vault.store().ListCustomers(std::nullopt, cursor, 1000);
      if (!page.ok()) return Fail("list", page.status());
      for (const store::CustomerRecord& record : page->items) ids.push_back(record.id);
      if (!page->next_cursor) break;
      cursor = page->next_cursor;
    }
  }

  backup::EngineOptions engine_options = backup::EngineOptionsFromConfig(vault.config(), location);
  engine_options.piece.threads = options.threads;
  engine_options.piece.chunk_bytes = static_cast<size_t>(options.chunk_bytes);
  engine_options.piece.zstd_level = options.zstd_level;
  Result<crypto::WrappedKey> key = backup::CurrentBackupKey(vault.store());
  if (!key.ok()) return Fail("backup key", key.status());
  backup::BackupEngine engine(&env, engine_options, vault.keyring(), *key);
  const std::string db_path = engine_options.custvault_db_path;
  const std::string audit_path = engine_options.audit_db_path;

  // 2. Full backup with the import still in the journal.
  const int64_t db_with_journal = Bytes(db_path) + Bytes(db_path + "-wal") + Bytes(audit_path);
  std::fprintf(stderr, "backup_benchmark: files after import: custvault.db %.1f MB + WAL %.1f MB, audit.db %.1f MB\n",
               Bytes(db_path) / 1e6, Bytes(db_path + "-wal") / 1e6, Bytes(audit_path) / 1e6);
  auto full_start = std::chrono::steady_clock::now();
  Result<backup::BackupResult> first = engine.RunFull();
  const double first_seconds = Since(full_start);
  if (!first.ok()) return Fail("full backup 1", first.status());
  std::fprintf(stderr, "backup_benchmark: full #1 (journal unpruned) %.1f MB in %.2f s, %lld rows pruned after\n",
               db_with_journal / 1e6, first_seconds,
               static_cast<long long>(first->journal_rows_pruned));
  env.SetDayOffset(options.customers / 10'000 + 2);

  // 3. Steady-state full backup, phases apart.
  std::chrono::steady_clock::time_point pieces_start{};
  full_start = std::chrono::steady_clock::now();
  Result<backup::BackupResult> full = engine.RunFull([&](const backup::Progress& p) {
    if (p.stage != "snapshot" && pieces_start == std::chrono::steady_clock::time_point{}) {
      pieces_start = std::chrono::steady_clock::now();
    }
  });
  const double full_seconds = Since(full_start);
  if (!full.ok()) return Fail("full backup 2", full.status());
  const double snapshot_seconds =
      std::chrono::duration<double>(pieces_start - full_start).count();
  // The database as backed up: the snapshot files of custvault.db and audit.db.
  int64_t db_bytes = 0;
  for (const backup::PieceInfo& piece : full->manifest.pieces) {
    if (piece.name != backup::kPieceConfig) db_bytes += piece.raw_bytes;
  }
  const double pieces_seconds = full_seconds - snapshot_seconds;
  std::fprintf(stderr,
               "backup_benchmark: full #2 %.1f MB of database (stored %.1f MB) in %.2f s = %.0f MB/s "
               "(snapshot %.2f s, compress+encrypt+write %.2f s = %.0f MB/s of raw pieces)\n",
               db_bytes / 1e6, full->manifest.stored_bytes / 1e6, full_seconds,
               Mbps(db_bytes, full_seconds), snapshot_seconds, pieces_seconds,
               Mbps(full->manifest.raw_bytes, pieces_seconds));

  // 4. Restore of #2.
  backup::RestoreOptions restore;
  restore.from = location;
  restore.to = root + "/restored";
  restore.full_id = full->manifest.id;
  restore.master_key_path = vault.config().DataPath(vault.config().crypto.master_key_file);
  restore.threads = options.threads;
  const auto restore_start = std::chrono::steady_clock::now();
  Result<backup::RestoreReport> restored = backup::Restore(&env, restore);
  const double restore_seconds = Since(restore_start);
  if (!restored.ok()) return Fail("restore", restored.status());
  std::fprintf(stderr,
               "backup_benchmark: restore %.1f MB in %.2f s = %.0f MB/s (%lld customers, %lld "
               "audit entries verified)\n",
               full->manifest.raw_bytes / 1e6, restore_seconds,
               Mbps(full->manifest.raw_bytes, restore_seconds),
               static_cast<long long>(restored->customers),
               static_cast<long long>(restored->audit_entries_checked));
  fs::remove_all(restore.to);

  // 5. Incrementals against changed customers.
  json::array incrementals;
  size_t next_id = 0;
  for (int64_t changed : options.updates) {
    if (changed > static_cast<int64_t>(ids.size())) break;
    std::atomic<int64_t> failures{0};
    std::atomic<size_t> cursor{next_id};
    const size_t end = next_id + static_cast<size_t>(changed);
    const auto update_start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        CustomerDataGenerator phones(options.seed + 1000 + static_cast<uint64_t>(t));
        for (size_t i = cursor.fetch_add(1); i < end; i = cursor.fetch_add(1)) {
          Result<service::CustomerView> updated = vault.customers().Update(
              actor, ids[i % ids.size()], {{"phone", phones.NextCustomer().at("phone")}});
          if (!updated.ok()) ++failures;
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    next_id = end;
    const double update_seconds = Since(update_start);
    const auto incremental_start = std::chrono::steady_clock::now();
    Result<backup::BackupResult> incremental = engine.RunIncremental();
    const double incremental_seconds = Since(incremental_start);
    if (!incremental.ok()) return Fail("incremental", incremental.status());
    const backup::Manifest& m = incremental->manifest;
    std::fprintf(stderr,
                 "backup_benchmark: %lld customers changed (%lld failed, %.1f s): incremental %lld "
                 "journal rows, %lld audit entries, raw %.2f MB, stored %.2f MB (%.0f bytes per "
                 "changed customer), %.2f s\n",
                 static_cast<long long>(changed), static_cast<long long>(failures.load()),
                 update_seconds, static_cast<long long>(m.journal_rows),
                 static_cast<long long>(m.audit_entries), m.raw_bytes / 1e6, m.stored_bytes / 1e6,
                 static_cast<double>(m.stored_bytes) / static_cast<double>(changed),
                 incremental_seconds);
    incrementals.push_back(json::object{{"changed_customers", changed},
                                        {"journal_rows", m.journal_rows},
                                        {"audit_entries", m.audit_entries},
                                        {"raw_bytes", m.raw_bytes},
                                        {"stored_bytes", m.stored_bytes},
                                        {"stored_bytes_per_change",
                                         static_cast<double>(m.stored_bytes) / changed},
                                        {"seconds", incremental_seconds}});
    env.SetDayOffset(options.customers / 10'000 + 3 + static_cast<int64_t>(incrementals.size()));
  }

  json::object out{
      {"customers", options.customers},
      {"crypto_profile", options.profile},
      {"threads", options.threads},
      {"chunk_bytes", options.chunk_bytes},
      {"zstd_level", options.zstd_level},
      {"db_bytes_with_import_journal", db_with_journal},
      {"full1_seconds", first_seconds},
      {"db_bytes", db_bytes},
      {"full_seconds", full_seconds},
      {"full_snapshot_seconds", snapshot_seconds},
      {"full_pieces_seconds", pieces_seconds},
      {"full_mb_per_s", Mbps(db_bytes, full_seconds)},
      {"full_raw_bytes", full->manifest.raw_bytes},
      {"full_stored_bytes", full->manifest.stored_bytes},
      {"restore_seconds", restore_seconds},
      {"restore_mb_per_s", Mbps(full->manifest.raw_bytes, restore_seconds)},
      {"incrementals", std::move(incrementals)}};
  std::cout << json::serialize(out) << "\n";
  opened->reset();
  if (!options.keep) fs::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace custvault::bench

int main(int argc, char** argv) {
  custvault::bench::Options options;
  CLI::App app{"backup_benchmark: full backup and restore throughput, incremental sizes"};
  app.add_option("--customers", options.customers, "Customers to import")->capture_default_str();
  app.add_option("--updates", options.updates, "Customers changed before each incremental")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--threads", options.threads, "Compression/encryption threads")->capture_default_str();
  app.add_option("--chunk-bytes", options.chunk_bytes, "Chunk size")->capture_default_str();
  app.add_option("--zstd-level", options.zstd_level, "zstd level")->capture_default_str();
  app.add_option("--profile", options.profile, "crypto profile: default | gm")->capture_default_str();
  app.add_option("--dir", options.dir, "Scratch directory (default: a new temporary one)");
  app.add_flag("--keep", options.keep, "Keep the scratch directory");
  CLI11_PARSE(app, argc, argv);
  return custvault::bench::Run(options);
}
