// Servers under benchmark as child processes, with the real `ktls serve` binary: ready
// once the port accepts, stopped and reaped, and never left behind: not when they exit
// early, not when they are not ready in time, not when the benchmark itself dies.
#include "bench/server_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "bench/process_usage.h"
#include "test_site.h"

namespace ktls::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Whether `pid` is gone: reaped, or a zombie nobody has reaped yet.
bool Gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t close = line.rfind(')');
  return close != std::string::npos && line.compare(close, 4, ") Z ") == 0;
}

bool GoneWithin(pid_t pid, std::chrono::steady_clock::duration limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!Gone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

class ServerProcessTest : public ::testing::Test {
 protected:
  ServerCommand KtlsServe(uint16_t port) const {
    ServerCommand command;
    command.argv = {KTLS_CLI_PATH,
                    "serve",
                    site_.root(),
                    "--listen",
                    "127.0.0.1:" + std::to_string(port),
                    "--cert",
                    site_.cert_file(),
                    "--key",
                    site_.key_file()};
    command.log_path = site_.dir() + "/server.log";
    command.port = port;
    return command;
  }
  uint16_t Port() const {
    Result<uint16_t> port = FreePort("127.0.0.1");
    EXPECT_TRUE(port.ok());
    return port.ok() ? *port : 0;
  }

  TestSite site_{"server-process"};
};

TEST_F(ServerProcessTest, StartsWhenReadyAndStopsReaped) {
  const uint16_t port = Port();
  std::string error;
  Result<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start(KtlsServe(port), seconds(15), &error);
  ASSERT_TRUE(server.ok()) << error;
  const pid_t pid = (*server)->pid();
  EXPECT_TRUE(PortAccepts("127.0.0.1", port));
  EXPECT_GE((*server)->Usage().processes, 1);
  (*server)->Stop();
  // Reaped by Stop(): not even a zombie is left.
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_TRUE(Gone(pid));
  EXPECT_FALSE(PortAccepts("127.0.0.1", port));
}

TEST_F(ServerProcessTest, ExitBeforeReadyIsAnErrorWithTheLog) {
  ServerCommand command;
  command.argv = {"/bin/sh", "-c", "echo cannot bind >&2; exit 3"};
  command.log_path = site_.dir() + "/exit.log";
  command.port = Port();
  std::string error;
  Result<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start(command, seconds(15), &error);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error(), ECHILD);
  EXPECT_NE(error.find("exit status 3"), std::string::npos) << error;
  EXPECT_NE(error.find("cannot bind"), std::string::npos) << error;
}

TEST_F(ServerProcessTest, NotReadyInTimeIsStopped) {
  ServerCommand command;
  command.argv = {"/bin/sh", "-c", "sleep 30 & sleep 30"};  // and a worker
  command.log_path = site_.dir() + "/slow.log";
  command.port = Port();
  std::string error;
  Result<std::unique_ptr<ServerProcess>> server =
      ServerProcess::Start(command, milliseconds(300), &error);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error(), ETIMEDOUT);
  EXPECT_TRUE(DescendantsOf(getpid()).empty());
}

TEST_F(ServerProcessTest, DiesWithTheProcessThatStartedIt) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const ServerCommand command = KtlsServe(Port());
  const pid_t benchmark = fork();
  ASSERT_GE(benchmark, 0);
  if (benchmark == 0) {
    // A benchmark that dies without stopping its server (as after SIGKILL).
    std::string error;
    Result<std::unique_ptr<ServerProcess>> server =
        ServerProcess::Start(command, seconds(15), &error);
    const pid_t pid = server.ok() ? (*server)->pid() : 0;
    if (write(pipe_fds[1], &pid, sizeof(pid)) != sizeof(pid)) _exit(2);
    _exit(0);
  }
  close(pipe_fds[1]);
  pid_t server = 0;
  ASSERT_EQ(read(pipe_fds[0], &server, sizeof(server)), static_cast<ssize_t>(sizeof(server)));
  close(pipe_fds[0]);
  ASSERT_EQ(waitpid(benchmark, nullptr, 0), benchmark);
  ASSERT_GT(server, 0) << "the server did not start";
  EXPECT_TRUE(GoneWithin(server, seconds(10)));
  if (!Gone(server)) kill(-server, SIGKILL);
}

}  // namespace
}  // namespace ktls::bench
