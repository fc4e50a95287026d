// poll/select/epoll for descriptors whose TLS records we handle.
//
// The kernel sees only the TCP socket: bytes of half a record make it "readable", and
// records we already decrypted and hold make nothing readable in its eyes. These give
// the Linux kTLS answer instead: readable when a whole record (or an error, or the end
// of stream) is queued, reading ahead from the kernel only when the kernel says there
// is something; writable when our send queue has room. Descriptors we do not emulate
// keep the kernel's answer unchanged.
//
// Each returns what the libc call would (count, or -1 with errno), or kNotOurs when no
// emulated descriptor is involved, so the caller makes the real call.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>

namespace ktls::preload {

inline constexpr int kNotOurs = -2;

// `timeout` null: wait forever.
int PollRecords(struct pollfd* fds, nfds_t nfds, const struct timespec* timeout,
                const sigset_t* sigmask);

// select/pselect through PollRecords. With `remaining` (select's timeval), the time
// left is written back as Linux does.
int SelectRecords(int nfds, fd_set* read_fds, fd_set* write_fds, fd_set* except_fds,
                  const struct timespec* timeout, const sigset_t* sigmask,
                  struct timeval* remaining);

int EpollWaitRecords(int epfd, struct epoll_event* events, int max_events,
                     const struct timespec* timeout, const sigset_t* sigmask);

}  // namespace ktls::preload
