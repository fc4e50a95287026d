// Process-level hooks: fork handlers for the interposer's own tables, and at exit the
// last flush of queued records and the summary (`ktls run -v`, KTLS_STATS_FILE).
//
// fork: the child inherits every emulated socket with its state and may go on using
// it; records the parent had queued but not yet sent stay the parent's to send (see
// socket/flusher.h). As with any socket shared across fork, only one of the two
// processes may write to a connection afterwards: both writing would interleave two
// copies of the same record sequence.
#include <pthread.h>

#include "preload/config.h"
#include "preload/descriptors.h"
#include "preload/epoll_tracker.h"
#include "preload/summary.h"
#include "socket/flusher.h"

namespace ktls::preload {
namespace {

void PrepareFork() {
  EpollTracker::Get().PrepareFork();
  DescriptorsPrepareFork();
}

void ParentAfterFork() {
  DescriptorsParentAfterFork();
  EpollTracker::Get().ParentAfterFork();
}

void ChildAfterFork() {
  DescriptorsChildAfterFork();
  EpollTracker::Get().ChildAfterFork();
  // The child reports at exit only what it asks for itself.
  GetSummary().ulp_requests.Reset();
}

__attribute__((constructor)) void InstallForkHandlers() {
  pthread_atfork(&PrepareFork, &ParentAfterFork, &ChildAfterFork);
}

// KTLS_PRELOAD_* and KTLS_STATS_FILE come from the environment the program was started
// with: some programs replace theirs before their first TLS socket (nginx's worker
// processes keep only TZ and the variables named by `env` directives).
__attribute__((constructor)) void ReadConfigAtLoad() {
  socket::Flusher::SetExitBudget(GetConfig().exit_flush_budget);
}

// Runs after the application's atexit handlers (which may still write, a TLS
// close_notify for one), while the process can still send. The flusher drains at exit
// by itself too (socket/flusher.cc); whichever comes first drains, the other returns at
// once. Here it comes first, so the summary describes the sockets after their last flush.
__attribute__((destructor)) void AtExit() {
  if (AnyEmulated()) socket::Flusher::Get().DrainAtExit();
  ReportAtExit(LiveSockets());
}

}  // namespace
}  // namespace ktls::preload
