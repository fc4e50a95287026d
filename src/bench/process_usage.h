// CPU time and memory of a server under benchmark: a process and every process below it
// (nginx's master and workers), read from /proc. Sampled before and after a run, the
// difference is the server's CPU cost for that run.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace ktls::bench {

struct ProcessUsage {
  double cpu_seconds = 0;       // user + system time of the processes alive at the sample
  uint64_t rss_bytes = 0;       // resident set (VmRSS) summed over them
  uint64_t peak_rss_bytes = 0;  // high-water marks (VmHWM) summed over them
  int processes = 0;
};

// `root` and its descendants (by parent pid, at the time of the call). Processes that
// vanish while being read are skipped; an unknown root gives processes == 0.
ProcessUsage SampleProcessTree(pid_t root);

// The descendants of `root` (children, grandchildren, ...), not `root` itself.
std::vector<pid_t> DescendantsOf(pid_t root);

}  // namespace ktls::bench
