#include "bench/process_usage.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

namespace ktls::bench {
namespace {

// Spins for about `ms` milliseconds of CPU time, so the sample has something to count.
void Burn(int ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  volatile unsigned long sink = 0;
  while (std::chrono::steady_clock::now() < until) sink = sink + 1;
}

TEST(ProcessUsage, CountsThisProcessCpuAndMemory) {
  ProcessUsage before = SampleProcessTree(getpid());
  Burn(300);
  ProcessUsage after = SampleProcessTree(getpid());
  EXPECT_EQ(after.processes, before.processes);
  EXPECT_GT(after.cpu_seconds, before.cpu_seconds + 0.1);
  EXPECT_GT(after.rss_bytes, 1u << 20);
  EXPECT_GE(after.peak_rss_bytes, after.rss_bytes);
}

TEST(ProcessUsage, IncludesChildrenAndGrandchildren) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (fork() == 0) {
      pause();  // the grandchild
      _exit(0);
    }
    pause();
    _exit(0);
  }
  std::vector<pid_t> found;
  for (int attempt = 0; attempt < 200 && found.size() < 2; ++attempt) {
    usleep(10'000);
    found = DescendantsOf(getpid());
  }
  ProcessUsage tree = SampleProcessTree(getpid());
  EXPECT_EQ(found.size(), 2u);
  EXPECT_EQ(tree.processes, 3);
  for (pid_t pid : DescendantsOf(child)) kill(pid, SIGKILL);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

TEST(ProcessUsage, UnknownProcessIsEmpty) {
  ProcessUsage usage = SampleProcessTree(0x3fffffff);
  EXPECT_EQ(usage.processes, 0);
  EXPECT_EQ(usage.cpu_seconds, 0);
}

}  // namespace
}  // namespace ktls::bench
