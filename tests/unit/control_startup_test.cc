// Start-up configuration is loaded once per process, so each case runs in a child process
// (a gtest death test) whose first use of the knobs happens after it has set the
// environment. The parent never touches the knobs.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "control/knobs.h"
#include "control/registry.h"

namespace ktls::control {
namespace {

std::string TempPath(const char* stem) {
  return ::testing::TempDir() + stem + std::to_string(getpid());
}

bool WriteFile(const std::string& path, const std::string& text) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) return false;
  const bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  return std::fclose(file) == 0 && ok;
}

std::string ReadFile(const std::string& path) {
  std::string text;
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return text;
  char buffer[1024];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
  (void)std::fclose(file);
  return text;
}

// Collects failed checks in the child, which cannot report through gtest.
class Checks {
 public:
  void Expect(bool ok, const std::string& what) {
    if (!ok) failures_.push_back(what);
  }
  template <typename T, typename U>
  void ExpectEq(const T& actual, const U& expected, const std::string& what) {
    if (!(actual == expected)) {
      failures_.push_back(what + ": got " + Show(actual) + ", want " + Show(expected));
    }
  }
  // Prints the failures to stderr (the parent shows it) and ends the child.
  [[noreturn]] void Exit() {
    for (const std::string& failure : failures_) {
      (void)std::fprintf(stderr, "%s\n", failure.c_str());
    }
    (void)std::fflush(stderr);
    std::_Exit(failures_.empty() ? 0 : 1);
  }

 private:
  template <typename T>
  static std::string Show(const T& value) {
    if constexpr (std::is_convertible_v<T, std::string>) {
      return "\"" + std::string(value) + "\"";
    } else {
      return std::to_string(value);
    }
  }
  std::vector<std::string> failures_;
};

// Runs `first_use` (the process's first use of the knobs) with stderr captured, and
// returns what it printed.
std::string CaptureStderr(const std::function<void()>& first_use) {
  const std::string path = TempPath("ktls_startup_stderr_");
  (void)std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, STDERR_FILENO);
  close(fd);
  first_use();
  (void)std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string text = ReadFile(path);
  unlink(path.c_str());
  return text;
}

[[noreturn]] void FileThenEnvironment() {
  Checks checks;
  const std::string config = TempPath("ktls_startup_conf_");
  checks.Expect(WriteFile(config,
                          "# ktls start-up configuration\n"
                          "kern.ipc.tls.maxlen=4096\n"
                          "kern.ipc.tls.bind_threads = 1   # a tunable\n"
                          "\n"
                          "kern.ipc.tls.bogus=1\n"
                          "kern.ipc.tls.cbc_enable=0, kern.ipc.tls.sw_threads=3\n"
                          "kern.ipc.tls.stats.active=5\n"),
                "write config file");
  setenv("KTLS_CONFIG", config.c_str(), 1);
  setenv("KTLS_SYSCTL",
         "kern.ipc.tls.sw_buffer_cache=0;kern.ipc.tls.maxlen=8192,"
         "kern.ipc.tls.enable=7",
         1);

  // Several threads race to be first; all must see the loaded values.
  std::vector<uint32_t> seen(4);
  const std::string errors = CaptureStderr([&seen] {
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    threads.reserve(seen.size());
    for (uint32_t& value : seen) {
      threads.emplace_back([&go, &value] {
        while (!go.load()) std::this_thread::yield();
        value = GetKnobs().maxlen.load();
      });
    }
    go = true;
    for (std::thread& thread : threads) thread.join();
    // Calling the loader again, even with a changed environment, does nothing.
    setenv("KTLS_SYSCTL", "kern.ipc.tls.maxlen=1,kern.ipc.tls.nothing=1", 1);
    LoadStartupConfig();
  });
  unlink(config.c_str());

  for (uint32_t value : seen) checks.ExpectEq(value, 8192u, "maxlen seen by a racing thread");
  const Knobs& k = GetKnobs();
  checks.ExpectEq(k.maxlen.load(), 8192u, "maxlen (KTLS_SYSCTL after the file)");
  checks.ExpectEq(k.bind_threads.load(), 1, "bind_threads");
  checks.ExpectEq(k.cbc_enable.load(), false, "cbc_enable");
  checks.ExpectEq(k.sw_threads.load(), 3, "sw_threads");
  checks.ExpectEq(k.sw_buffer_cache.load(), false, "sw_buffer_cache");
  checks.ExpectEq(k.enable.load(), true, "enable (bad value ignored)");
  checks.ExpectEq(errors,
                  "ktls: config " + config + ":5: kern.ipc.tls.bogus: unknown name\n" +
                      "ktls: config " + config + ":7: kern.ipc.tls.stats.active: read-only\n" +
                      "ktls: KTLS_SYSCTL: kern.ipc.tls.enable: invalid value (decimal within "
                      "the allowed range expected)\n",
                  "stderr");

  // After start-up the tunables are fixed.
  const uint32_t maxlen = 1024;
  const int rc = SysctlByName("kern.ipc.tls.maxlen", nullptr, nullptr, &maxlen, sizeof(maxlen));
  checks.Expect(rc == -1 && errno == EPERM, "run-time write of a tunable is EPERM");
  checks.ExpectEq(WriteFromText("kern.ipc.tls.sw_threads", "5", false), EPERM,
                  "run-time text write of a tunable");
  checks.Exit();
}

TEST(StartupConfig, FileThenEnvironmentOnceOnly) {
  EXPECT_EXIT(FileThenEnvironment(), ::testing::ExitedWithCode(0), "");
}

[[noreturn]] void NamedFileMissing() {
  Checks checks;
  setenv("KTLS_CONFIG", "/nonexistent-ktls-dir/ktls.conf", 1);
  setenv("KTLS_SYSCTL", "kern.ipc.tls.sw_threads=2", 1);
  const std::string errors = CaptureStderr([] { GetKnobs(); });
  checks.ExpectEq(errors,
                  "ktls: config /nonexistent-ktls-dir/ktls.conf: No such file or directory\n",
                  "stderr");
  checks.ExpectEq(GetKnobs().sw_threads.load(), 2, "KTLS_SYSCTL still applied");
  checks.ExpectEq(GetKnobs().maxlen.load(), 16384u, "maxlen default");
  checks.Exit();
}

TEST(StartupConfig, NamedFileThatIsMissingIsReported) {
  EXPECT_EXIT(NamedFileMissing(), ::testing::ExitedWithCode(0), "");
}

[[noreturn]] void SysctlFirst() {
  Checks checks;
  unsetenv("KTLS_CONFIG");
  setenv("KTLS_SYSCTL", "\n kern.ipc.tls.maxlen = 2048 # small records\n", 1);
  uint32_t maxlen = 0;
  size_t len = sizeof(maxlen);
  std::string errors = CaptureStderr([&] {
    checks.ExpectEq(SysctlByName("kern.ipc.tls.maxlen", &maxlen, &len, nullptr, 0), 0, "read");
  });
  checks.ExpectEq(maxlen, 2048u, "first sysctl read sees the start-up value");
  checks.ExpectEq(errors, "", "stderr");
  checks.Exit();
}

TEST(StartupConfig, FirstSysctlCallLoadsTheConfigToo) {
  if (access("/etc/ktls.conf", F_OK) == 0) GTEST_SKIP() << "/etc/ktls.conf exists here";
  EXPECT_EXIT(SysctlFirst(), ::testing::ExitedWithCode(0), "");
}

[[noreturn]] void NothingConfigured() {
  Checks checks;
  unsetenv("KTLS_CONFIG");
  unsetenv("KTLS_SYSCTL");
  const std::string errors = CaptureStderr([] { GetKnobs(); });
  checks.ExpectEq(errors, "", "stderr");
  const Knobs& k = GetKnobs();
  checks.ExpectEq(k.enable.load(), true, "enable");
  checks.ExpectEq(k.rx_enable.load(), true, "rx_enable");
  checks.ExpectEq(k.cbc_enable.load(), true, "cbc_enable");
  checks.ExpectEq(k.maxlen.load(), 16384u, "maxlen");
  checks.ExpectEq(k.ifnet_permitted.load(), 0u, "ifnet.permitted");
  checks.ExpectEq(k.ifnet_max_rexmit_pct.load(), 2u, "ifnet_max_rexmit_pct");
  checks.ExpectEq(k.bind_threads.load(), 0, "bind_threads");
  checks.ExpectEq(k.sw_threads.load(), 0, "sw_threads");
  checks.ExpectEq(k.sw_parallel_min.load(), 262144u, "sw_parallel_min");
  checks.ExpectEq(k.sw_buffer_cache.load(), true, "sw_buffer_cache");
  checks.ExpectEq(k.mb_use_ext_pgs.load(), 1, "mb_use_ext_pgs");
  checks.Exit();
}

TEST(StartupConfig, DefaultsWithoutConfiguration) {
  if (access("/etc/ktls.conf", F_OK) == 0) GTEST_SKIP() << "/etc/ktls.conf exists here";
  EXPECT_EXIT(NothingConfigured(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace ktls::control
