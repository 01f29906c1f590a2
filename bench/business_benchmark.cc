// business_benchmark: the store side of re-classification (R-TAG-3) at the
// size issue 5 names: 10,000,000 transactions over 1,000,000 customers.
//
//   1. Inserts --customers customers (store level: the store never looks
//      inside envelopes, so each row carries a ~200-byte stand-in blob and
//      wrapped key; encryption is the import benchmark's subject).
//   2. Bulk-inserts --transactions transactions through
//      BusinessStore::InsertTransactions, --batch rows per transaction, in
//      time order over uniformly random customers (how a channel's history
//      import arrives); amounts 1..100,000 CNY, 5% refunds, times spread
//      over the last two years. Plus --complaints single complaint inserts.
//   3. Calls TotalsForIdRange for consecutive ranges of --range customer
//      ids covering every customer, with a 12-month window, and checks the
//      totals against what was generated (the run fails on a mismatch).
//
// What is timed: each phase on its own (generation of a batch is outside
// the insert timing). Reported: rows/s, the totals pass (total, per range
// p50/p99/max), peak RSS, database size. One JSON object on stdout, a
// human summary on stderr. The database is removed unless --keep.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "store/business_store.h"
#include "store/store.h"

namespace custvault::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kMicrosPerDay = 86'400'000'000LL;

double Seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

int64_t PeakRssKib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Customer i's id: "C" + YYYYMMDD + 6 digits, 10^6 per day as the real ids
// allow, so the ranges cross day boundaries like a real table.
std::string CustomerId(int64_t i) {
  char id[32];
  std::snprintf(id, sizeof id, "C202601%02d%06d", static_cast<int>(1 + i / 1'000'000),
                static_cast<int>(i % 1'000'000));
  return id;
}

int Fail(const Status& status, const char* what) {
  std::cerr << "business_benchmark: " << what << ": " << status.ToString() << "\n";
  return 1;
}

int Run(int argc, char** argv) {
  CLI::App app{"Business records at scale: bulk insert and TotalsForIdRange"};
  std::string db_dir;
  int64_t customers = 1'000'000;
  int64_t transactions = 10'000'000;
  int64_t complaints = 10'000;
  int batch = 50'000;
  int range = 10'000;
  uint64_t seed = 20261129;
  bool keep = false;
  app.add_option("--dir", db_dir, "Directory for the database (default: a new temporary one)");
  app.add_option("--customers", customers, "Customers")->check(CLI::Range(1, 30'000'000));
  app.add_option("--transactions", transactions, "Transactions")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  app.add_option("--complaints", complaints, "Complaints (single inserts, one fsync each)")
      ->check(CLI::Range(0, 10'000'000));
  app.add_option("--batch", batch, "Transactions per InsertTransactions call")
      ->check(CLI::Range(1, 50'000));
  app.add_option("--range", range, "Customers per TotalsForIdRange call")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--seed", seed, "Random seed");
  app.add_flag("--keep", keep, "Keep the database afterwards");
  CLI11_PARSE(app, argc, argv);
  if (customers > 30 * 1'000'000) return Fail(InvalidArgument("too many customers"), "options");

  bool made_dir = false;
  if (db_dir.empty()) {
    db_dir = (std::filesystem::temp_directory_path() /
              ("cv_business_bench_" + std::to_string(::getpid())))
                 .string();
    made_dir = true;
  }
  std::filesystem::create_directories(db_dir);
  const std::string path = db_dir + "/custvault.db";
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");

  Result<std::unique_ptr<store::Store>> opened = store::OpenSqliteStore({.path = path});
  if (!opened.ok()) return Fail(opened.status(), "open");
  std::unique_ptr<store::Store> base = std::move(*opened);
  Result<std::unique_ptr<store::BusinessStore>> business_opened =
      store::OpenSqliteBusinessStore(*base);
  if (!business_opened.ok()) return Fail(business_opened.status(), "open business store");
  store::BusinessStore& business = **business_opened;

  std::mt19937_64 random(seed);
  const int64_t now_us = 1'796'000'000'000'000;  // fixed, so runs are comparable
  const int64_t since_us = now_us - 365 * kMicrosPerDay;

  // ---- 1. customers ----
  const auto customers_start = Clock::now();
  {
    std::vector<store::CustomerRecord> rows;
    for (int64_t i = 0; i < customers; ++i) {
      store::CustomerRecord r;
      r.id = CustomerId(i);
      r.channel = "staff:bench";
      r.created_at_us = now_us;
      r.updated_at_us = now_us;
      r.wrapped_key = std::string(80, static_cast<char>('k' + i % 7));
      r.fields = {{"name", std::string(60, 'n')}, {"phone", std::string(60, 'p')}};
      rows.push_back(std::move(r));
      if (rows.size() == 50'000 || i + 1 == customers) {
        if (Status s = base->InsertCustomers(rows); !s.ok()) return Fail(s, "insert customers");
        rows.clear();
      }
    }
  }
  const double customers_s = Seconds(customers_start, Clock::now());
  std::cerr << "customers: " << customers << " in " << customers_s << " s\n";

  // ---- 2. transactions (and what the totals must come to) ----
  std::vector<int64_t> expected_spend(static_cast<size_t>(customers), 0);
  std::vector<int32_t> expected_orders(static_cast<size_t>(customers), 0);
  std::uniform_int_distribution<int64_t> pick_customer(0, customers - 1);
  std::uniform_int_distribution<int64_t> pick_amount(100, 10'000'000);  // 1..100,000 CNY
  std::uniform_int_distribution<int> pick_percent(0, 99);
  const int64_t span_us = 730 * kMicrosPerDay;
  double insert_s = 0, generate_s = 0;
  {
    std::vector<store::TransactionRecord> rows;
    rows.reserve(static_cast<size_t>(batch));
    int64_t done = 0;
    int next_report = 1;
    while (done < transactions) {
      const auto generate_start = Clock::now();
      rows.clear();
      const int64_t n = std::min<int64_t>(batch, transactions - done);
      for (int64_t k = 0; k < n; ++k) {
        const int64_t i = pick_customer(random);
        store::TransactionRecord t;
        t.customer_id = CustomerId(i);
        t.amount_fen = pick_amount(random) * (pick_percent(random) < 5 ? -1 : 1);
        // Time order: row (done + k) of `transactions` over the two years.
        t.occurred_at_us =
            now_us - span_us + span_us * (done + k) / std::max<int64_t>(transactions, 1);
        t.channel = "store:SH-001";
        t.created_by = "channel:bench";
        t.created_at_us = t.occurred_at_us;
        if (t.occurred_at_us >= since_us) {
          expected_spend[static_cast<size_t>(i)] += t.amount_fen;
          if (t.amount_fen > 0) ++expected_orders[static_cast<size_t>(i)];
        }
        rows.push_back(std::move(t));
      }
      const auto insert_start = Clock::now();
      generate_s += Seconds(generate_start, insert_start);
      if (Status s = business.InsertTransactions(rows); !s.ok()) {
        return Fail(s, "insert transactions");
      }
      insert_s += Seconds(insert_start, Clock::now());
      done += n;
      if (done * 20 >= transactions * next_report) {
        std::cerr << "transactions: " << done << " (" << static_cast<int64_t>(done / insert_s)
                  << "/s)\n";
        ++next_report;
      }
    }
  }
  std::cerr << "transactions: " << transactions << " in " << insert_s << " s (generation "
            << generate_s << " s, not included)\n";

  std::vector<int32_t> expected_complaints(static_cast<size_t>(customers), 0);
  const auto complaints_start = Clock::now();
  for (int64_t k = 0; k < complaints; ++k) {
    const int64_t i = pick_customer(random);
    store::ComplaintRecord c;
    char id[24];
    std::snprintf(id, sizeof id, "CM%016llx", static_cast<unsigned long long>(k));
    c.id = id;
    c.customer_id = CustomerId(i);
    c.opened_at_us = now_us - kMicrosPerDay;
    c.summary_sealed = std::string(120, 's');
    c.created_by = "channel:bench";
    c.created_at_us = c.opened_at_us;
    if (Status s = business.InsertComplaint(c); !s.ok()) return Fail(s, "insert complaint");
    ++expected_complaints[static_cast<size_t>(i)];
  }
  const double complaints_s = Seconds(complaints_start, Clock::now());
  std::cerr << "complaints: " << complaints << " in " << complaints_s << " s\n";

  // ---- 3. totals over every customer, range by range ----
  std::vector<double> range_ms;
  int64_t customers_with_records = 0;
  int64_t mismatches = 0;
  const auto totals_start = Clock::now();
  for (int64_t first = 0; first < customers; first += range) {
    const int64_t last = std::min<int64_t>(first + range, customers) - 1;
    const auto call_start = Clock::now();
    Result<store::BusinessTotalsById> totals =
        business.TotalsForIdRange(CustomerId(first), CustomerId(last), since_us);
    range_ms.push_back(Seconds(call_start, Clock::now()) * 1000);
    if (!totals.ok()) return Fail(totals.status(), "totals");
    customers_with_records += static_cast<int64_t>(totals->size());
    // Checked outside the timing above.
    for (int64_t i = first; i <= last; ++i) {
      const auto found = totals->find(CustomerId(i));
      const store::BusinessTotals got =
          found == totals->end() ? store::BusinessTotals{} : found->second;
      const size_t at = static_cast<size_t>(i);
      if (got.spend_fen != expected_spend[at] || got.order_count != expected_orders[at] ||
          got.complaints_total != expected_complaints[at] ||
          got.complaints_open != expected_complaints[at]) {
        ++mismatches;
      }
    }
  }
  const double totals_wall_s = Seconds(totals_start, Clock::now());
  const double totals_s = std::accumulate(range_ms.begin(), range_ms.end(), 0.0) / 1000;
  std::vector<double> sorted = range_ms;
  std::sort(sorted.begin(), sorted.end());
  const auto quantile = [&sorted](double q) {
    return sorted.empty() ? 0.0 : sorted[static_cast<size_t>(q * (sorted.size() - 1))];
  };
  base.reset();

  uintmax_t db_bytes = 0;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(path + suffix, ec);
    if (!ec) db_bytes += size;
  }
  std::cerr << "totals: " << sorted.size() << " ranges of " << range << " customers in " << totals_s
            << " s (p50 " << quantile(0.5) << " ms, p99 " << quantile(0.99) << " ms, max "
            << quantile(1.0) << " ms); " << customers_with_records << " customers with records; "
            << mismatches << " mismatches\n"
            << "peak RSS " << PeakRssKib() / 1024 << " MiB; database " << db_bytes / (1 << 20)
            << " MiB\n";
  std::cout << "{\"customers\":" << customers << ",\"transactions\":" << transactions
            << ",\"complaints\":" << complaints << ",\"batch\":" << batch
            << ",\"customers_insert_s\":" << customers_s
            << ",\"transactions_insert_s\":" << insert_s
            << ",\"transactions_per_s\":" << (insert_s > 0 ? transactions / insert_s : 0)
            << ",\"complaints_insert_s\":" << complaints_s << ",\"range\":" << range
            << ",\"ranges\":" << sorted.size() << ",\"totals_s\":" << totals_s
            << ",\"totals_wall_s\":" << totals_wall_s << ",\"range_ms_p50\":" << quantile(0.5)
            << ",\"range_ms_p99\":" << quantile(0.99) << ",\"range_ms_max\":" << quantile(1.0)
            << ",\"customers_with_records\":" << customers_with_records
            << ",\"mismatches\":" << mismatches << ",\"peak_rss_kib\":" << PeakRssKib()
            << ",\"database_bytes\":" << db_bytes << "}\n";
  if (!keep) {
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
    if (made_dir) std::filesystem::remove_all(db_dir);
  }
  return mismatches == 0 ? 0 : 1;
}

}  // namespace
}  // namespace custvault::bench

int main(int argc, char** argv) { return custvault::bench::Run(argc, argv); }
