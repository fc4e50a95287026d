// A server under benchmark as a child process: started in its own session (so it and
// every worker it forks can be signalled together), its output kept in a log file, ready
// once its port accepts a connection, and stopped with SIGTERM, then SIGKILL. It never
// outlives the benchmark: the destructor stops it, and if the benchmark dies first (a
// crash, SIGKILL, ^C) the kernel sends it SIGTERM (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "bench/process_usage.h"

namespace ktls::bench {

struct ServerCommand {
  std::vector<std::string> argv;      // argv[0] is looked up in PATH
  std::vector<std::string> env;       // NAME=VALUE added to this process's environment
  std::string log_path;               // stdout and stderr
  std::string address = "127.0.0.1";  // where it listens: checked for readiness
  uint16_t port = 0;
};

class ServerProcess {
 public:
  // Starts the command and waits until its port accepts a connection. Fails with
  // `error` (including the log's last lines) if it exits first or takes too long. The
  // server gets SIGTERM when the calling thread ends, so call it from the thread that
  // outlives the server (the main thread).
  static Result<std::unique_ptr<ServerProcess>> Start(const ServerCommand& command,
                                                      std::chrono::milliseconds ready_timeout,
                                                      std::string* error);
  ~ServerProcess();  // Stop() if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  // CPU and memory of the server and its workers now.
  ProcessUsage Usage() const { return SampleProcessTree(pid_); }
  // SIGTERM to the whole session, SIGKILL after `grace`; reaps the process. The exit
  // status is returned for the record (servers stopped by a signal report it).
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  explicit ServerProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool running_ = true;
};

// A TCP port on `address` that nothing listens on right now (the kernel's choice).
Result<uint16_t> FreePort(const std::string& address);

// Whether a TCP connection to address:port succeeds now.
bool PortAccepts(const std::string& address, uint16_t port);

// The last `lines` lines of a text file, for error messages.
std::string LogTail(const std::string& path, int lines = 15);

}  // namespace ktls::bench
