#include "bench/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

namespace ktls::bench {
namespace {

using Clock = std::chrono::steady_clock;

bool MakeAddress(const std::string& address, uint16_t port, sockaddr_storage* out,
                 socklen_t* length) {
  *out = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *length = sizeof(*v4);
    return true;
  }
  if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *length = sizeof(*v6);
    return true;
  }
  return false;
}

// Runs in the forked child: only async-signal-safe calls until exec (the parent may
// have other threads), so the argument and environment arrays come ready-made.
[[noreturn]] void ExecChild(char* const* argv, char* const* envp, const char* log_path) {
  setsid();
  int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log >= 0) {
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
  }
  if (null >= 0) dup2(null, STDIN_FILENO);
  execvpe(argv[0], argv, envp);
  const char* message = "server_process: exec failed\n";
  ssize_t ignored = write(STDERR_FILENO, message, std::strlen(message));
  (void)ignored;
  _exit(127);
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

  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return Status::Error(errno);
  }
  if (pid == 0) ExecChild(argv.data(), envp.data(), command.log_path.c_str());

  std::unique_ptr<ServerProcess> server(new ServerProcess(pid));
  const Clock::time_point deadline = Clock::now() + ready_timeout;
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      server->running_ = false;
      *error = command.argv[0] + " exited before accepting connections (status " +
               std::to_string(status) + "):\n" + LogTail(command.log_path);
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
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Workers that outlive their master (orphans in the same group) go as well.
  kill(-pid_, SIGKILL);
  return status;
}

Result<uint16_t> FreePort(const std::string& address) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (!MakeAddress(address, 0, &storage, &length)) return Status::Error(EINVAL);
  int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(errno);
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    const int bind_error = errno;
    close(fd);
    return Status::Error(bind_error);
  }
  close(fd);
  return storage.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port)
                                      : ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
}

bool PortAccepts(const std::string& address, uint16_t port) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (!MakeAddress(address, port, &storage, &length)) return false;
  int fd = socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool accepted = connect(fd, reinterpret_cast<sockaddr*>(&storage), length) == 0;
  close(fd);
  return accepted;
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
