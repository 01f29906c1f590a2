// Audit log throughput (R-AUD-5, R-AUD-2): durable appends from many
// concurrent callers through the group-commit writer, and verification
// speed over a long chain.
//
//   audit_benchmark [--threads 64] [--append-entries 200000]
//                   [--verify-entries 1000000] [--dir /tmp]
//
// Appends go through AuditLog::Append exactly as the services call it (each
// returns only after its batch was fsynced). The verify chain is written
// directly through the store in large batches (chained and MACed the same
// way), then VerifyChain reads and checks all of it.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "audit/audit_log.h"
#include "audit/checkpoint.h"
#include "audit/verify.h"
#include "crypto/keyring.h"
#include "store/sqlite/sqlite_audit_store.h"

namespace custvault {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

audit::AuditEvent SampleEvent(int thread, int i) {
  audit::AuditEvent event;
  event.actor_id = "staff" + std::to_string(thread % 50);
  event.actor_role = "info_manager";
  event.source_ip = "10.0." + std::to_string(thread) + ".7";
  event.operation =
      std::string(i % 10 == 0 ? audit::op::kCustomerSearch : audit::op::kCustomerView);
  event.customer_id = "C20261129" + std::to_string(100000 + (i * 7919) % 900000);
  event.result = "ok";
  event.details["fields"] = 12;
  return event;
}

int Run(int threads, int append_entries, int verify_entries, const std::string& base_dir) {
  const std::string dir = base_dir + "/cv_audit_bench_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto keyring = crypto::Keyring::Open(Env::Default(), dir + "/master.key",
                                       crypto::CryptoProfile::kDefault, true);
  if (!keyring.ok() || !(*keyring)->CreateDomainKey("audit", 1).ok()) {
    std::fprintf(stderr, "keyring setup failed\n");
    return 1;
  }

  // 1. Durable appends from many threads.
  {
    auto store = store::sqlite::SqliteAuditStore::Open({.path = dir + "/append.db"});
    audit::AuditLogOptions options;
    auto log =
        audit::AuditLog::Open(Env::Default(), std::move(store).value(), keyring->get(), options);
    if (!log.ok()) {
      std::fprintf(stderr, "open: %s\n", log.status().ToString().c_str());
      return 1;
    }
    std::atomic<int> next{0};
    std::atomic<int> failures{0};
    const auto started = Clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = next++; i < append_entries; i = next++) {
          if (!(*log)->Append(SampleEvent(t, i)).ok()) ++failures;
        }
      });
    }
    for (auto& worker : workers) worker.join();
    const double elapsed = Seconds(Clock::now() - started);
    const audit::AuditLogStats stats = (*log)->stats();
    std::printf(
        "append (durable, group commit, %d threads): %d entries in %.2f s = %.0f entries/s; "
        "%lld batches (%.1f entries per fsync), %d failures\n",
        threads, append_entries, elapsed, append_entries / elapsed,
        static_cast<long long>(stats.batches),
        stats.batches ? static_cast<double>(stats.entries) / static_cast<double>(stats.batches) : 0,
        failures.load());
  }

  // 2. Verification over a long chain.
  {
    auto store = store::sqlite::SqliteAuditStore::Open({.path = dir + "/verify.db"});
    if (!store.ok()) return 1;
    audit::ChainHasher hasher;
    std::string prev(audit::GenesisHash());
    const int64_t time_us = Env::Default()->NowMicros();
    constexpr int kBatch = 20'000;
    const auto write_started = Clock::now();
    for (int written = 0; written < verify_entries;) {
      std::vector<store::AuditEntryRow> rows;
      const int count = std::min(kBatch, verify_entries - written);
      for (int i = 0; i < count; ++i) {
        auto row = audit::PrepareRow(SampleEvent(i % 64, written + i)).value();
        row.seq = written + i + 1;
        row.time_us = time_us;
        row.prev_hash = prev;
        row.hash = std::string(crypto::DigestView(hasher.Hash(prev, audit::ViewOf(row))));
        prev = row.hash;
        rows.push_back(std::move(row));
      }
      written += count;
      auto checkpoint = audit::MakeCheckpoint(**keyring, written, prev, time_us, "periodic");
      auto head = audit::MakeHead(**keyring, written, prev, time_us);
      std::vector<store::AuditCheckpointRow> checkpoints = {*checkpoint};
      if (!(*store)->AppendBatch(rows, checkpoints, {}, *head).ok()) return 1;
    }
    std::printf("(verify chain of %d entries written in %.1f s)\n", verify_entries,
                Seconds(Clock::now() - write_started));
    const auto started = Clock::now();
    auto report = audit::VerifyChain(**store, **keyring);
    const double elapsed = Seconds(Clock::now() - started);
    if (!report.ok() || !report->intact()) {
      std::fprintf(stderr, "verify failed\n");
      return 1;
    }
    std::printf("verify: %lld entries, %lld checkpoint MACs in %.2f s = %.0f entries/s\n",
                static_cast<long long>(report->entries_checked),
                static_cast<long long>(report->checkpoints_checked), elapsed,
                static_cast<double>(report->entries_checked) / elapsed);
    // Hashing alone, for the bound SM3 sets.
    auto row = audit::PrepareRow(SampleEvent(1, 1)).value();
    row.seq = 1;
    row.time_us = time_us;
    const auto hash_started = Clock::now();
    crypto::Digest32 digest{};
    for (int i = 0; i < verify_entries; ++i) {
      row.seq = i;
      digest = hasher.Hash(prev, audit::ViewOf(row));
    }
    const double hash_elapsed = Seconds(Clock::now() - hash_started);
    std::printf(
        "chain hash alone: %.0f entries/s (canonical entry %zu bytes; digest byte %u)\n",
        verify_entries / hash_elapsed,
        [&] {
          std::string canonical;
          audit::AppendCanonical(audit::ViewOf(row), &canonical);
          return canonical.size();
        }(),
        static_cast<unsigned>(digest[0]));
  }
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace custvault

int main(int argc, char** argv) {
  CLI::App app{"audit log benchmark"};
  int threads = 64;
  int append_entries = 200'000;
  int verify_entries = 1'000'000;
  std::string dir = std::filesystem::temp_directory_path().string();
  app.add_option("--threads", threads)->check(CLI::Range(1, 1024));
  app.add_option("--append-entries", append_entries)->check(CLI::Range(1, 100'000'000));
  app.add_option("--verify-entries", verify_entries)->check(CLI::Range(1, 100'000'000));
  app.add_option("--dir", dir);
  CLI11_PARSE(app, argc, argv);
  return custvault::Run(threads, append_entries, verify_entries, dir);
}
