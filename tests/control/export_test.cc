// The shared-memory export from inside one process: started by a knob access, mode
// 0600, values and sockets visible to a reader, knob writes through the control
// channel, fork and stale-segment handling.
#include "control/export/exporter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "control/export/segment_files.h"
#include "control/export/segment_reader.h"
#include "control/knobs.h"
#include "control/registry.h"
#include "ktls/freebsd.h"
#include "testlib/tcp_pair.h"
#include "testlib/tls_enable_builder.h"

namespace ktls::control::shm {
namespace {

using std::chrono::milliseconds;

// Starts the export (a knob access does) and returns this process's snapshot path.
std::string StartExport() {
  std::string value;
  EXPECT_TRUE(ReadAsText("kern.ipc.tls.enable", &value));
  return ExportedSnapshotPath();
}

// Reads this process's export until `done` holds (the exporter refreshes every 200 ms).
bool WaitForExport(const std::function<bool(const ProcessExport&)>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    Result<ProcessExport> process = ReadExport(getpid());
    if (process.ok() && done(process.value())) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

uint64_t ValueOf(const ProcessExport& process, const char* name) {
  const ExportedEntry* entry = FindEntry(process, name);
  return entry != nullptr ? entry->value : ~uint64_t{0};
}

TEST(ExportTest, KnobAccessCreatesPrivateSegments) {
  const std::string path = StartExport();
  ASSERT_EQ(path, "/dev/shm/ktls." + std::to_string(getpid()));
  for (const std::string& file : {path, path + ".ctl"}) {
    struct stat st = {};
    ASSERT_EQ(stat(file.c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << file;
    EXPECT_EQ(st.st_uid, geteuid()) << file;
  }
}

TEST(ExportTest, ReaderSeesEveryEntryAndLaterChanges) {
  StartExport();
  ASSERT_TRUE(WaitForExport([](const ProcessExport& p) { return !p.entries.empty(); }));
  Result<ProcessExport> process = ReadExport(getpid());
  ASSERT_TRUE(process.ok());
  EXPECT_EQ(process->entries.size(), AllEntries().size());
  EXPECT_EQ(process->uid, geteuid());

  const uint32_t saved = GetKnobs().sw_parallel_min.load();
  ASSERT_EQ(WriteFromText("kern.ipc.tls.sw_parallel_min", "12345", false), 0);
  GetStats().destroy_task.Add(5);
  const uint64_t destroyed = GetStats().destroy_task.value();
  EXPECT_TRUE(WaitForExport([&](const ProcessExport& p) {
    return ValueOf(p, "kern.ipc.tls.sw_parallel_min") == 12345 &&
           ValueOf(p, "kern.ipc.tls.stats.destroy_task") == destroyed;
  }));
  GetStats().destroy_task.Sub(5);
  GetKnobs().sw_parallel_min.store(saved);
}

TEST(ExportTest, KnobWriteThroughTheChannelTakesEffectHere) {
  StartExport();
  ASSERT_TRUE(WaitForExport([](const ProcessExport& p) { return !p.entries.empty(); }));
  Result<KnobWrite> answer =
      RequestKnobWrite(getpid(), "kern.ipc.tls.cbc_enable", "0", std::chrono::seconds(2));
  ASSERT_TRUE(answer.ok()) << answer.error();
  EXPECT_EQ(answer->error, 0);
  EXPECT_EQ(answer->old_value, "1");
  EXPECT_EQ(answer->new_value, "0");
  EXPECT_FALSE(GetKnobs().cbc_enable.load());
  // The answer comes after the snapshot was refreshed.
  Result<ProcessExport> process = ReadExport(getpid());
  ASSERT_TRUE(process.ok());
  EXPECT_EQ(ValueOf(process.value(), "kern.ipc.tls.cbc_enable"), 0u);
  GetKnobs().cbc_enable.store(true);

  auto error_of = [](const char* name, const char* value) {
    Result<KnobWrite> a = RequestKnobWrite(getpid(), name, value, std::chrono::seconds(2));
    return a.ok() ? a->error : -a.error();
  };
  EXPECT_EQ(error_of("kern.ipc.tls.maxlen", "1024"), EPERM);  // tunable
  EXPECT_EQ(error_of("kern.ipc.tls.stats.active", "1"), EPERM);
  EXPECT_EQ(error_of("kern.ipc.tls.nosuch", "1"), ENOENT);
  EXPECT_EQ(error_of("kern.ipc.tls.enable", "x"), EINVAL);
  EXPECT_EQ(error_of(std::string(100, 'k').c_str(), "1"), -ENAMETOOLONG);
  EXPECT_TRUE(GetKnobs().enable.load());
}

TEST(ExportTest, OffloadedSocketsAreListedUntilClosed) {
  testing::TcpPair pair;
  testing::TlsEnableBuilder builder(testing::Tls13Suites().front(), 0);
  const struct tls_enable& en = builder.get();
  ASSERT_EQ(ktls_setsockopt(pair.client, IPPROTO_TCP, TCP_TXTLS_ENABLE, &en, sizeof(en)), 0);
  const char data[] = "hello";
  ASSERT_EQ(ktls_write(pair.client, data, sizeof(data)), static_cast<ssize_t>(sizeof(data)));
  const int fd = pair.client;
  auto listed = [fd](const ProcessExport& p) {
    for (const ExportedSocket& s : p.sockets) {
      if (s.fd == fd) return s.tx_records == 1;
    }
    return false;
  };
  ASSERT_TRUE(WaitForExport(listed));
  Result<ProcessExport> process = ReadExport(getpid());
  ASSERT_TRUE(process.ok());
  for (const ExportedSocket& s : process->sockets) {
    if (s.fd != fd) continue;
    EXPECT_EQ(s.abi, 1);      // FreeBSD
    EXPECT_EQ(s.tx_mode, 1);  // TCP_TLS_MODE_SW
    EXPECT_EQ(s.rx_mode, 0);
    EXPECT_STREQ(s.tx_suite, "AES-128-GCM");
    EXPECT_EQ(s.tx_version, 0x0304);
    EXPECT_EQ(s.tx_bytes, sizeof(data));
    EXPECT_EQ(std::string(s.local).rfind("127.0.0.1:", 0), 0u) << s.local;
    EXPECT_EQ(std::string(s.peer).rfind("127.0.0.1:", 0), 0u) << s.peer;
  }
  ASSERT_EQ(ktls_close(pair.client), 0);
  pair.Release(fd);
  EXPECT_TRUE(WaitForExport([&](const ProcessExport& p) { return !listed(p); }));
}

TEST(ExportTest, ForkedChildExportsItsOwnAndRemovesItAtExit) {
  const std::string parent_path = StartExport();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Nothing of the parent's carries over; the child's first knob access starts its own.
    int code = ExportedSnapshotPath().empty() ? 0 : 10;
    std::string value;
    ReadAsText("kern.ipc.tls.enable", &value);
    const std::string own = "/dev/shm/ktls." + std::to_string(getpid());
    if (ExportedSnapshotPath() != own || access(own.c_str(), F_OK) != 0) code += 20;
    std::exit(code);  // runs the atexit handler that removes the segments
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(access(("/dev/shm/ktls." + std::to_string(child)).c_str(), F_OK), 0);
  EXPECT_EQ(access(parent_path.c_str(), F_OK), 0);
  EXPECT_TRUE(ReadExport(getpid()).ok());
}

TEST(ExportTest, DeadProcessesSegmentsAreIgnoredAndRemoved) {
  StartExport();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string value;
    ReadAsText("kern.ipc.tls.enable", &value);
    _exit(0);  // no atexit: the segments stay behind, as after SIGKILL
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  const std::string path = "/dev/shm/ktls." + std::to_string(child);
  ASSERT_EQ(access(path.c_str(), F_OK), 0);
  EXPECT_EQ(ReadExport(child).error(), ESRCH);

  const ProcessScan scan = FindExportingProcesses(/*remove_stale=*/true);
  EXPECT_NE(std::find(scan.removed_pids.begin(), scan.removed_pids.end(), child),
            scan.removed_pids.end());
  EXPECT_EQ(std::find(scan.pids.begin(), scan.pids.end(), child), scan.pids.end());
  EXPECT_NE(std::find(scan.pids.begin(), scan.pids.end(), getpid()), scan.pids.end());
  EXPECT_NE(access(path.c_str(), F_OK), 0);
  EXPECT_NE(access((path + ".ctl").c_str(), F_OK), 0);
  EXPECT_EQ(ReadExport(child).error(), ENOENT);
}

}  // namespace
}  // namespace ktls::control::shm
