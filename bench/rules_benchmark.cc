// Tag rules (R-TAG-1, R-TAG-3): the cost of RuleSet::Classify with the
// built-in rules, the per-customer step of a re-classification of
// 1,000,000 customers (target: well under 1 us), and of parsing the file.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "rules/rules.h"

namespace custvault::rules {
namespace {

const RuleSet& Defaults() {
  static const RuleSet rules = [] {
    Result<RuleSet> parsed = RuleSet::Parse(DefaultRulesToml());
    if (!parsed.ok()) {
      std::fprintf(stderr, "rules_benchmark: %s\n", parsed.status().ToString().c_str());
      std::exit(1);
    }
    return std::move(parsed).value();
  }();
  return rules;
}

// A spread of customers so that every rule path is taken (no branch
// predictor flattery from one repeated input).
std::vector<CustomerMetrics> Customers() {
  std::mt19937 rng(1);
  const char* ratings[] = {"", "AAA", "AA", "A", "BBB", "BB", "B", "CCC", "D"};
  std::vector<CustomerMetrics> out(4096);
  for (CustomerMetrics& m : out) {
    m.spend_fen = std::uniform_int_distribution<int64_t>(0, 20'000'000)(rng);
    m.order_count = std::uniform_int_distribution<int64_t>(0, 50)(rng);
    m.complaints_total = std::uniform_int_distribution<int>(0, 9)(rng) == 0 ? 1 : 0;
    m.complaints_open = 0;
    m.credit_rating = ratings[std::uniform_int_distribution<int>(0, 8)(rng)];
  }
  return out;
}

void BM_ClassifyDefaultRules(benchmark::State& state) {
  const RuleSet& rules = Defaults();
  const std::vector<CustomerMetrics> customers = Customers();
  size_t i = 0;
  for (auto _ : state) {
    Tags tags = rules.Classify(customers[i++ & (customers.size() - 1)]);
    benchmark::DoNotOptimize(tags);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClassifyDefaultRules);

void BM_ParseDefaultRules(benchmark::State& state) {
  for (auto _ : state) {
    Result<RuleSet> rules = RuleSet::Parse(DefaultRulesToml());
    benchmark::DoNotOptimize(rules);
  }
}
BENCHMARK(BM_ParseDefaultRules);

}  // namespace
}  // namespace custvault::rules

BENCHMARK_MAIN();
