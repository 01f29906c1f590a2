// reclassify_benchmark: re-classification (R-TAG-3) of N customers with M
// transactions: the dry run, the filing of one tag_batch approval, and the
// department head's approval of every item (one store transaction), with
// the peak resident memory of each (target: 1,000,000 customers with
// 10,000,000 transactions in < 30 s on 2 cores, memory flat).
//
// The data is built in a child process (so its buffers never count in the
// measured process's peak RSS) with the bulk store APIs directly:
//   customers:    Store::InsertCustomers, sealed exactly as CustomerService
//                 seals them (a fresh wrapped data key each; name,
//                 id_number, phone, address, bank_account and credit_rating
//                 encrypted; blind indexes for the searchable fields; the
//                 initial tags of the rules), 4 seal threads;
//   transactions: BusinessStore::InsertTransactions, M spread over the
//                 customers (uneven: some none, some many), 10 % older
//                 than the 365-day window;
//   complaints:   one open complaint for every 1000th customer.
// The measured process then opens the vault and runs TagService as the
// scheduled job would ("job:reclassify"), and approves as a department head.
//
//   reclassify_benchmark [--customers 1000000] [--transactions 10000000]
//                        [--data-dir D] [--keep] [--reuse] [--no-approve]
//                        [--generate-only]
//
// Filing and approving change the data (the batch is pending, then the tags
// are applied), so a repeatable measurement generates once, keeps a copy,
// and measures a fresh copy each time:
//   reclassify_benchmark --data-dir /var/tmp/cvr/base --generate-only
//   cp -a /var/tmp/cvr/base /var/tmp/cvr/run
//   reclassify_benchmark --data-dir /var/tmp/cvr/run --reuse --keep
//
// Output: a human summary on stderr and one JSON object on stdout.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/customer_data_generator.h"
#include "common/config.h"
#include "common/env.h"
#include "service/vault.h"
#include "store/business_store.h"

namespace custvault::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kCustomersPerDay = 1'000'000;  // ids are C + date + 6 digits
constexpr int64_t kCustomersMax = 9 * kCustomersPerDay;
constexpr int64_t kTransactionsMax = 200'000'000;
constexpr int kSealThreads = 4;
constexpr int64_t kCustomerBatch = 20'000;
constexpr int64_t kTransactionBatch = 50'000;
constexpr int64_t kDayUs = 86'400'000'000;
const char* const kRatings[] = {"AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D"};

int64_t PeakRssKib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

// User + system CPU seconds of this process so far (all threads): on a
// shared machine this says more than the wall clock.
double CpuSeconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

int Fail(const std::string& what, const Status& status) {
  std::cerr << "reclassify_benchmark: " << what << ": " << status.ToString() << "\n";
  return 1;
}

std::string CustomerId(int64_t i) {
  char id[32];
  std::snprintf(id, sizeof id, "C2025010%lld%06lld", static_cast<long long>(1 + i / kCustomersPerDay),
                static_cast<long long>(i % kCustomersPerDay));
  return id;
}

// One customer sealed as CustomerService::SealNewRecord does it.
Result<store::CustomerRecord> Seal(const service::Vault& vault, const std::string& id,
                                   const std::map<std::string, std::string>& values, int64_t now) {
  const crypto::Keyring& keyring = vault.keyring();
  store::CustomerRecord record;
  record.id = id;
  record.channel = "staff:bench";
  record.created_at_us = now;
  record.updated_at_us = now;
  ASSIGN_OR_RETURN(crypto::NewCustomerKey key, keyring.CreateCustomerKey(id));
  record.kek_version = key.kek_version;
  record.wrapped_key = std::move(key.wrapped);
  for (const auto& [field_key, value] : values) {
    const catalog::FieldDef* field = vault.catalog().Find(field_key);
    if (field == nullptr) return Internal("unknown field " + field_key);
    const crypto::AeadAlgorithm algorithm = field->protection == catalog::Protection::kSm4Gcm
                                                ? crypto::AeadAlgorithm::kSm4Gcm
                                                : crypto::AeadAlgorithm::kAes256Gcm;
    ASSIGN_OR_RETURN(record.fields[field_key],
                     keyring.EncryptField(algorithm, key.key, record.key_version, id, field_key,
                                          value));
    if (field->searchable) {
      ASSIGN_OR_RETURN(record.blind_indexes[field_key], keyring.BlindIndex(field_key, value));
    }
  }
  return record;
}

// Builds the data set in a fresh data directory. Runs in the child.
int Generate(const std::string& data_dir, int64_t customers, int64_t transactions) {
  Env* env = Env::Default();
  const auto environment = ProcessEnvironment();
  Result<service::InitResult> init = service::InitDataDirectory(env, data_dir, environment);
  if (!init.ok()) return Fail("init", init.status());
  Result<std::unique_ptr<service::Vault>> opened = service::Vault::Open(env, data_dir, environment);
  if (!opened.ok()) return Fail("open", opened.status());
  service::Vault& vault = **opened;
  const int64_t now = env->NowMicros();

  auto start = Clock::now();
  for (int64_t first = 0; first < customers; first += kCustomerBatch) {
    const int64_t count = std::min(kCustomerBatch, customers - first);
    std::vector<store::CustomerRecord> records(count);
    std::vector<std::future<Status>> parts;
    for (int t = 0; t < kSealThreads; ++t) {
      parts.push_back(std::async(std::launch::async, [&, t]() -> Status {
        CustomerDataGenerator generator(static_cast<uint64_t>(first) * 31 + t);
        std::mt19937_64 random(static_cast<uint64_t>(first) + t);
        for (int64_t i = t; i < count; i += kSealThreads) {
          std::map<std::string, std::string> values = generator.NextCustomer();
          values.erase("email");
          values["credit_rating"] = kRatings[random() % std::size(kRatings)];
          const std::string id = CustomerId(first + i);
          ASSIGN_OR_RETURN(records[i], Seal(vault, id, values, now));
          records[i].tags = vault.tags().InitialTags(values);
        }
        return Status::Ok();
      }));
    }
    for (auto& part : parts) {
      Status s = part.get();
      if (!s.ok()) return Fail("seal", s);
    }
    Status inserted = vault.store().InsertCustomers(records);
    if (!inserted.ok()) return Fail("insert customers", inserted);
    std::fprintf(stderr, "\rcustomers: %lld / %lld", static_cast<long long>(first + count),
                 static_cast<long long>(customers));
  }
  std::fprintf(stderr, "  (%.1f s)\n", Seconds(start));

  start = Clock::now();
  std::mt19937_64 random(1129);
  // Uneven: a customer's share is drawn from a long-tailed distribution.
  std::exponential_distribution<double> share(1.0);
  std::uniform_int_distribution<int64_t> amount(100, 2'500'000);  // 1 .. 25,000 CNY
  std::vector<store::TransactionRecord> batch;
  batch.reserve(kTransactionBatch);
  int64_t written = 0;
  const double per_customer = static_cast<double>(transactions) / static_cast<double>(customers);
  for (int64_t c = 0; c < customers; ++c) {
    const int64_t queued = written + static_cast<int64_t>(batch.size());
    int64_t n = static_cast<int64_t>(share(random) * per_customer + 0.5);
    if (c == customers - 1) n = transactions - queued;
    n = std::min(n, transactions - queued);
    const std::string id = CustomerId(c);
    for (int64_t k = 0; k < n; ++k) {
      store::TransactionRecord tx;
      tx.customer_id = id;
      tx.amount_fen = amount(random);
      const bool old = random() % 10 == 0;
      tx.occurred_at_us = now - (old ? 400 : 1 + static_cast<int64_t>(random() % 360)) * kDayUs;
      tx.channel = "store:SH-001";
      tx.created_by = "staff:bench";
      tx.created_at_us = now;
      batch.push_back(std::move(tx));
      if (static_cast<int64_t>(batch.size()) == kTransactionBatch) {
        Status s = vault.business_store().InsertTransactions(batch);
        if (!s.ok()) return Fail("insert transactions", s);
        written += static_cast<int64_t>(batch.size());
        batch.clear();
        std::fprintf(stderr, "\rtransactions: %lld / %lld", static_cast<long long>(written),
                     static_cast<long long>(transactions));
      }
    }
  }
  if (!batch.empty()) {
    Status s = vault.business_store().InsertTransactions(batch);
    if (!s.ok()) return Fail("insert transactions", s);
    written += static_cast<int64_t>(batch.size());
  }
  std::fprintf(stderr, "\rtransactions: %lld  (%.1f s)\n", static_cast<long long>(written),
               Seconds(start));

  start = Clock::now();
  int64_t complaints = 0;
  for (int64_t c = 0; c < customers; c += 1000) {
    store::ComplaintRecord complaint;
    complaint.id = "CMbench" + std::to_string(c);
    complaint.customer_id = CustomerId(c);
    complaint.opened_at_us = now - 30 * kDayUs;
    complaint.summary_sealed = "sealed-placeholder";  // never read by the rules
    complaint.created_by = "staff:bench";
    complaint.created_at_us = now;
    Status s = vault.business_store().InsertComplaint(complaint);
    if (!s.ok()) return Fail("insert complaint", s);
    ++complaints;
  }
  std::fprintf(stderr, "complaints: %lld  (%.1f s)\n", static_cast<long long>(complaints),
               Seconds(start));
  return 0;
}

struct Options {
  int64_t customers = 1'000'000;
  int64_t transactions = 10'000'000;
  std::string data_dir;
  bool keep = false;
  bool reuse = false;
  bool approve = true;
  bool generate_only = false;
};

int Run(const Options& options) {
  std::string data_dir = options.data_dir;
  if (options.generate_only && data_dir.empty()) {
    std::cerr << "reclassify_benchmark: --generate-only needs --data-dir\n";
    return 2;
  }
  if (data_dir.empty()) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "custvault-reclassify-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    data_dir = pattern + "/data";
  }
  const bool generate = !(options.reuse && std::filesystem::exists(data_dir));
  if (generate) {
    if (std::filesystem::exists(data_dir)) {
      std::cerr << "reclassify_benchmark: " << data_dir << " exists (use --reuse)\n";
      return 1;
    }
    const auto start = Clock::now();
    // In a child: none of its memory is in this process's peak RSS.
    const pid_t child = fork();
    if (child < 0) {
      std::perror("fork");
      return 1;
    }
    if (child == 0) _exit(Generate(data_dir, options.customers, options.transactions));
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::cerr << "reclassify_benchmark: generating the data failed\n";
      return 1;
    }
    std::fprintf(stderr, "data generated in %.1f s\n", Seconds(start));
  }
  if (options.generate_only) return 0;

  Env* env = Env::Default();
  const auto environment = ProcessEnvironment();
  Result<std::unique_ptr<service::Vault>> opened = service::Vault::Open(env, data_dir, environment);
  if (!opened.ok()) return Fail("open", opened.status());
  service::Vault& vault = **opened;
  const int64_t rss_open = PeakRssKib();
  Result<int64_t> count = vault.store().CountCustomers();
  if (!count.ok()) return Fail("count", count.status());

  const service::Actor job = service::ApprovalService::JobActor("reclassify");
  auto progress = [](int64_t done, int64_t total) {
    std::fprintf(stderr, "\r  %lld / %lld", static_cast<long long>(done),
                 static_cast<long long>(total));
  };

  auto start = Clock::now();
  double cpu = CpuSeconds();
  Result<service::ReclassifyReport> dry = vault.tags().Reclassify(job, {true, progress});
  const double dry_seconds = Seconds(start);
  const double dry_cpu = CpuSeconds() - cpu;
  if (!dry.ok()) return Fail("dry run", dry.status());
  const int64_t rss_dry = PeakRssKib();
  std::fprintf(stderr,
               "\ndry run: %lld customers, %lld change, %.2f s (%.2f CPU s), peak RSS %lld MiB\n",
               static_cast<long long>(dry->customers_scanned),
               static_cast<long long>(dry->customers_changed), dry_seconds, dry_cpu,
               static_cast<long long>(rss_dry / 1024));

  start = Clock::now();
  cpu = CpuSeconds();
  Result<service::ReclassifyReport> filed = vault.tags().Reclassify(job, {false, progress});
  const double file_seconds = Seconds(start);
  const double file_cpu = CpuSeconds() - cpu;
  if (!filed.ok()) return Fail("filing", filed.status());
  const int64_t rss_filed = PeakRssKib();
  std::fprintf(stderr, "\nfiled: %lld items in %s, %.2f s (%.2f CPU s), peak RSS %lld MiB\n",
               static_cast<long long>(filed->customers_changed),
               filed->approval ? filed->approval->id.c_str() : "(none)", file_seconds, file_cpu,
               static_cast<long long>(rss_filed / 1024));

  double approve_seconds = 0;
  double approve_cpu = 0;
  int64_t rss_approved = rss_filed;
  int64_t applied = 0;
  if (options.approve && filed->approval) {
    service::Actor head;
    head.kind = service::ActorKind::kStaff;
    head.role = service::Role::kDeptHead;
    head.id = "u_bench_head";
    head.ip = "127.0.0.1";
    start = Clock::now();
    cpu = CpuSeconds();
    Result<service::ApprovalView> decided =
        vault.approvals().Decide(head, filed->approval->id, {true, {}, "benchmark"});
    approve_seconds = Seconds(start);
    approve_cpu = CpuSeconds() - cpu;
    if (!decided.ok()) return Fail("approve", decided.status());
    applied = decided->items_applied;
    rss_approved = PeakRssKib();
    std::fprintf(stderr,
                 "approved: %lld applied in one transaction, %.2f s (%.2f CPU s), peak RSS %lld "
                 "MiB\n",
                 static_cast<long long>(applied), approve_seconds, approve_cpu,
                 static_cast<long long>(rss_approved / 1024));
  }
  opened->reset();
  std::printf(
      "{\"customers\": %lld, \"transactions\": %lld, \"cores\": %u, \"changed\": %lld, "
      "\"dry_run_s\": %.3f, \"filing_s\": %.3f, \"approve_s\": %.3f, \"dry_run_cpu_s\": %.3f, "
      "\"filing_cpu_s\": %.3f, \"approve_cpu_s\": %.3f, \"applied\": %lld, "
      "\"peak_rss_kib_after_open\": %lld, \"peak_rss_kib_after_dry_run\": %lld, "
      "\"peak_rss_kib_after_filing\": %lld, \"peak_rss_kib_after_approve\": %lld}\n",
      static_cast<long long>(*count), static_cast<long long>(options.transactions),
      std::thread::hardware_concurrency(), static_cast<long long>(dry->customers_changed),
      dry_seconds, file_seconds, approve_seconds, dry_cpu, file_cpu, approve_cpu,
      static_cast<long long>(applied),
      static_cast<long long>(rss_open), static_cast<long long>(rss_dry),
      static_cast<long long>(rss_filed), static_cast<long long>(rss_approved));
  if (!options.keep && options.data_dir.empty()) {
    std::filesystem::remove_all(std::filesystem::path(data_dir).parent_path());
  }
  return 0;
}

}  // namespace
}  // namespace custvault::bench

int main(int argc, char** argv) {
  custvault::bench::Options options;
  CLI::App app{"Re-classification benchmark (R-TAG-3)"};
  app.add_option("--customers", options.customers, "Customers")
      ->check(CLI::Range(int64_t{1}, custvault::bench::kCustomersMax));
  app.add_option("--transactions", options.transactions, "Transactions")
      ->check(CLI::Range(int64_t{0}, custvault::bench::kTransactionsMax));
  app.add_option("--data-dir", options.data_dir, "Data directory (default: a scratch one)");
  app.add_flag("--keep", options.keep, "Keep the scratch data directory");
  app.add_flag("--reuse", options.reuse, "Reuse --data-dir if it exists (no generation)");
  app.add_flag("--generate-only", options.generate_only,
               "Generate into --data-dir and stop (needs --data-dir)");
  bool no_approve = false;
  app.add_flag("--no-approve", no_approve, "Do not approve the filed batch");
  CLI11_PARSE(app, argc, argv);
  options.approve = !no_approve;
  return custvault::bench::Run(options);
}
