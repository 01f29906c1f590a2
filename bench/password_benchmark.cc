// argon2id cost on this machine (R-ACC-4): one login verifies one hash, so
// this is the CPU time and memory a login costs, and the rate at which one
// core could guess passwords against a stolen hash. Numbers are reported
// in docs/access-control.md.
#include <benchmark/benchmark.h>

#include "common/env.h"
#include "identity/password.h"

namespace {

using custvault::identity::Argon2Params;

void BM_Argon2idHash(benchmark::State& state) {
  const Argon2Params params{static_cast<uint32_t>(state.range(0)),
                            static_cast<uint32_t>(state.range(1)),
                            static_cast<uint32_t>(state.range(2))};
  for (auto _ : state) {
    auto hash = custvault::identity::HashPassword(custvault::Env::Default(),
                                                  "Benchmark-Password-2026", params);
    if (!hash.ok()) state.SkipWithError("argon2id failed");
    benchmark::DoNotOptimize(hash);
  }
  state.counters["memory_MiB"] = static_cast<double>(params.memory_kib) / 1024.0;
}

void BM_Argon2idVerify(benchmark::State& state) {
  const Argon2Params params{static_cast<uint32_t>(state.range(0)),
                            static_cast<uint32_t>(state.range(1)),
                            static_cast<uint32_t>(state.range(2))};
  auto hash = custvault::identity::HashPassword(custvault::Env::Default(),
                                                "Benchmark-Password-2026", params);
  if (!hash.ok()) {
    state.SkipWithError("argon2id failed");
    return;
  }
  for (auto _ : state) {
    auto verified = custvault::identity::VerifyPassword(*hash, "Benchmark-Password-2026");
    benchmark::DoNotOptimize(verified);
  }
}

// (memory KiB, iterations, parallelism): OWASP's minimum (19 MiB, t=2),
// our default (64 MiB, t=3, p=1), RFC 9106's second recommendation
// (64 MiB, t=3, p=4; p>1 only helps with threads libargon2 was built with),
// and a heavier one for comparison.
#define CUSTVAULT_ARGON2_ARGS                                               \
  ->Args({19 * 1024, 2, 1})                                                 \
      ->Args({64 * 1024, 3, 1})                                             \
      ->Args({64 * 1024, 3, 4})                                             \
      ->Args({128 * 1024, 3, 1})                                            \
      ->ArgNames({"m_KiB", "t", "p"})                                       \
      ->Unit(benchmark::kMillisecond)                                       \
      ->Iterations(5)

BENCHMARK(BM_Argon2idHash) CUSTVAULT_ARGON2_ARGS;
BENCHMARK(BM_Argon2idVerify)->Args({64 * 1024, 3, 1})->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
