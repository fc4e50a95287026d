// SIGPIPE held off while a benchmark client writes to sockets: OpenSSL's socket BIO writes
// with write(2), so a server that resets a connection would otherwise end the whole
// benchmark (and SIGPIPE's default action leaves no message saying why). With the signal
// blocked the write fails with EPIPE and costs that connection only.
#pragma once

#include <signal.h>

namespace ktls::bench {

// Blocks SIGPIPE in the calling thread for its lifetime; on destruction discards the
// ones raised meanwhile and restores the thread's previous mask.
class SigpipeBlock {
 public:
  SigpipeBlock();
  ~SigpipeBlock();
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t previous_{};
};

}  // namespace ktls::bench
