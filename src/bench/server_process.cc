#include "bench/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

#include "bench/socket_address.h"
#include "bench/tcp_connect.h"
#include "server/unique_fd.h"

namespace ktls::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Runs in the forked child: only async-signal-safe calls until exec (the parent may
// have other threads), so the argument and environment arrays come ready-made.
[[noreturn]] void ExecChild(char* const* argv, char* const* envp, const char* log_path,
                            pid_t parent) {
  // Its own session: the benchmark's terminal does not signal it, Stop() signals it and
  // every worker it forks as one group. So that it cannot outlive the benchmark (killed,
  // or interrupted with ^C), the kernel sends it SIGTERM when the forking thread exits;
  // a parent already gone before that was set means exit now.
  setsid();
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(127);
  // The mask and ignored signals survive exec: the server starts with none of the
  // caller's (a blocked SIGTERM would leave Stop() only SIGKILL).
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  const int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log >= 0) {
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
  }
  if (null >= 0) dup2(null, STDIN_FILENO);
  execvpe(argv[0], argv, envp);
  const char* message = "server_process: exec failed\n";
  const ssize_t ignored = write(STDERR_FILENO, message, std::strlen(message));
  (void)ignored;
  _exit(127);
}

// "exit status 1", "killed by signal 9": a waitpid status for messages.
std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

// waitpid, again after a signal interrupted it: the child's pid, 0 (WNOHANG, still
// running) or -1 (no such child).
pid_t WaitFor(pid_t pid, int* status, int options) {
  for (;;) {
    const pid_t waited = waitpid(pid, status, options);
    if (waited >= 0 || errno != EINTR) return waited;
  }
}

}  // namespace

Result<std::unique_ptr<ServerProcess>> ServerProcess::Start(const ServerCommand& command,
                                                            std::chrono::milliseconds ready_timeout,
                                                            std::string* error) {
  if (command.argv.empty()) {
    *error = "no server command";
    return Status::Error(EINVAL);
  }
  std::vector<char*> argv;
  argv.reserve(command.argv.size() + 1);
  for (const std::string& arg : command.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  // This process's environment with the command's additions replacing same names.
  std::vector<char*> envp;
  for (const std::string& entry : command.env) envp.push_back(const_cast<char*>(entry.c_str()));
  for (char** inherited = environ; *inherited != nullptr; ++inherited) {
    const char* equals = std::strchr(*inherited, '=');
    const size_t name_length = equals != nullptr ? static_cast<size_t>(equals - *inherited) + 1 : 0;
    bool replaced = false;
    for (const std::string& entry : command.env) {
      replaced = replaced ||
                 (name_length > 0 && entry.compare(0, name_length, *inherited, name_length) == 0);
    }
    if (!replaced) envp.push_back(*inherited);
  }
  envp.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int fork_error = errno;
    *error = std::string("fork: ") + std::strerror(fork_error);
    return Status::Error(fork_error);
  }
  if (pid == 0) ExecChild(argv.data(), envp.data(), command.log_path.c_str(), parent);

  // From here on every return stops the server unless it is handed to the caller.
  std::unique_ptr<ServerProcess> server(new ServerProcess(pid));
  const Clock::time_point deadline = Clock::now() + ready_timeout;
  for (;;) {
    int status = 0;
    if (WaitFor(pid, &status, WNOHANG) == pid) {
      server->running_ = false;
      // Workers it forked may still be running in its group.
      kill(-pid, SIGKILL);
      *error = command.argv[0] + " exited before accepting connections (" + DescribeStatus(status) +
               "):\n" + LogTail(command.log_path);
      return Status::Error(ECHILD);
    }
    if (PortAccepts(command.address, command.port)) return server;
    if (Clock::now() > deadline) {
      server->Stop();
      *error = command.argv[0] + " did not accept connections on port " +
               std::to_string(command.port) + " in time:\n" + LogTail(command.log_path);
      return Status::Error(ETIMEDOUT);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

ServerProcess::~ServerProcess() {
  if (running_) Stop();
}

int ServerProcess::Stop(std::chrono::milliseconds grace) {
  if (!running_) return 0;
  running_ = false;
  // The child made itself a session and group leader; signal the whole group so
  // workers go too. Before setsid() ran, the group may not exist yet: signal the pid.
  if (kill(-pid_, SIGTERM) != 0) kill(pid_, SIGTERM);
  const Clock::time_point deadline = Clock::now() + grace;
  int status = 0;
  while (WaitFor(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      WaitFor(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Workers that outlive their master (orphans in the same group) go as well.
  kill(-pid_, SIGKILL);
  return status;
}

Result<uint16_t> FreePort(const std::string& address) {
  std::string error;
  Result<SocketAddress> local = ResolveAddress(address, 0, &error);
  if (!local.ok()) return local.status();
  const server::UniqueFd fd(socket(local->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::Error(errno);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&local->addr), local->len) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local->addr), &local->len) != 0) {
    return Status::Error(errno);
  }
  return server::PortOf(*local);
}

bool PortAccepts(const std::string& address, uint16_t port) {
  std::string error;
  Result<SocketAddress> remote = ResolveAddress(address, port, &error);
  // A server that just started answers at once, or refuses; one whose listen backlog is
  // full must not hold the readiness loop past its deadline.
  return remote.ok() && ConnectTcp(*remote, std::chrono::seconds(1), &error).ok();
}

std::string LogTail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  std::string text;
  for (const std::string& kept : tail) text += "  | " + kept + "\n";
  return text;
}

}  // namespace ktls::bench
