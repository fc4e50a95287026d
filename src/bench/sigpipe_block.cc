#include "bench/sigpipe_block.h"

#include <pthread.h>

#include <ctime>

namespace ktls::bench {

SigpipeBlock::SigpipeBlock() {
  sigemptyset(&pipe_);
  sigaddset(&pipe_, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_, &previous_);
}

SigpipeBlock::~SigpipeBlock() {
  // A pending SIGPIPE would be delivered the moment the mask is restored.
  const timespec zero{};
  while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
  }
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

}  // namespace ktls::bench
