#include "tools/ktls/bench_timing.h"

#include <algorithm>
#include <ctime>

#include "bench/median.h"

namespace ktls::tool {
namespace {

// Long enough that two clock reads are noise (~0.1%), short enough that most
// batches run without being preempted (a time slice is milliseconds).
constexpr double kBatchNs = 100'000;

}  // namespace

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

double MeasureOpsPerSec(const TimedRun& run, double seconds) {
  const double target_ns = seconds * 1e9;
  // Grow the batch to about kBatchNs; this also warms caches and lazy library state.
  size_t batch = 1;
  double warm_ns = 0;
  for (;;) {
    const auto ns = static_cast<double>(run(batch));
    warm_ns += ns;
    if (ns >= kBatchNs) break;
    batch = ns <= 0 ? batch * 2 : std::max(batch + 1, static_cast<size_t>(batch * kBatchNs / ns));
  }
  while (warm_ns < target_ns / 10) warm_ns += static_cast<double>(run(batch));

  std::vector<double> per_op;
  double measured_ns = 0;
  while (measured_ns < target_ns || per_op.size() < 3) {
    const auto ns = static_cast<double>(run(batch));
    measured_ns += ns;
    per_op.push_back(ns / static_cast<double>(batch));
  }
  return 1e9 / std::max(bench::Median(per_op), 1e-3);
}

double Spread(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  const auto [min, max] = std::minmax_element(values.begin(), values.end());
  const double median = bench::Median(values);
  return median > 0 ? (*max - *min) / median : 0;
}

}  // namespace ktls::tool
