// Timing for the benchmarks: a cheap clock, batched runs summarised by their median
// (so that preemption on a shared machine drops out), robust summaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace ktls::tool {

// Monotonic time in ns; a vDSO call (~50 ns), cheap enough to read per batch.
uint64_t MonotonicNs();

// Runs `count` operations and returns the MonotonicNs they took; an operation that
// needs untimed preparation (opening fresh records) leaves it out of the returned time.
using TimedRun = std::function<uint64_t(size_t count)>;

// Warms up, then runs batches of about 0.1 ms until about `seconds` of measured time
// have passed. Returns operations per second of the median batch: a batch that was
// preempted by other work is an outlier and does not count.
double MeasureOpsPerSec(const TimedRun& run, double seconds);

// (max - min) / median (bench/median.h): how far apart the repeated measurements were.
double Spread(const std::vector<double>& values);

}  // namespace ktls::tool
