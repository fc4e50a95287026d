// Readiness: poll, ppoll, select, pselect and epoll (with the fortified variants).
// Sets without emulated sockets go straight to libc; see readiness.h for the rest.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "platform/next_libc.h"
#include "preload/deadline.h"
#include "preload/epoll_tracker.h"
#include "preload/readiness.h"

namespace libc = ktls::platform::libc;
namespace preload = ktls::preload;
using preload::kNotOurs;

extern "C" {

[[noreturn]] void __chk_fail(void);

int poll(struct pollfd* fds, nfds_t nfds, int timeout_ms) {
  const struct timespec timeout = preload::Deadline::FromMilliseconds(timeout_ms);
  const int n = preload::PollRecords(fds, nfds, timeout_ms < 0 ? nullptr : &timeout, nullptr);
  return n == kNotOurs ? libc::Poll(fds, nfds, timeout_ms) : n;
}

int __poll_chk(struct pollfd* fds, nfds_t nfds, int timeout_ms, size_t fds_len) {
  if (fds_len / sizeof(*fds) < nfds) __chk_fail();
  return poll(fds, nfds, timeout_ms);
}

int ppoll(struct pollfd* fds, nfds_t nfds, const struct timespec* timeout,
          const sigset_t* sigmask) {
  const int n = preload::PollRecords(fds, nfds, timeout, sigmask);
  return n == kNotOurs ? libc::Ppoll(fds, nfds, timeout, sigmask) : n;
}

int __ppoll_chk(struct pollfd* fds, nfds_t nfds, const struct timespec* timeout,
                const sigset_t* sigmask, size_t fds_len) {
  if (fds_len / sizeof(*fds) < nfds) __chk_fail();
  return ppoll(fds, nfds, timeout, sigmask);
}

int select(int nfds, fd_set* read_fds, fd_set* write_fds, fd_set* except_fds,
           struct timeval* timeout) {
  struct timespec limit = {};
  if (timeout != nullptr) limit = {timeout->tv_sec, timeout->tv_usec * 1000L};
  const int n = preload::SelectRecords(nfds, read_fds, write_fds, except_fds,
                                       timeout != nullptr ? &limit : nullptr, nullptr, timeout);
  return n == kNotOurs ? libc::Select(nfds, read_fds, write_fds, except_fds, timeout) : n;
}

int pselect(int nfds, fd_set* read_fds, fd_set* write_fds, fd_set* except_fds,
            const struct timespec* timeout, const sigset_t* sigmask) {
  const int n =
      preload::SelectRecords(nfds, read_fds, write_fds, except_fds, timeout, sigmask, nullptr);
  return n == kNotOurs ? libc::Pselect(nfds, read_fds, write_fds, except_fds, timeout, sigmask) : n;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) noexcept {
  const int result = libc::EpollCtl(epfd, op, fd, event);
  if (result == 0) preload::EpollTracker::Get().Control(epfd, op, fd, event);
  return result;
}

int epoll_wait(int epfd, struct epoll_event* events, int max_events, int timeout_ms) {
  const struct timespec timeout = preload::Deadline::FromMilliseconds(timeout_ms);
  const int n = preload::EpollWaitRecords(epfd, events, max_events,
                                          timeout_ms < 0 ? nullptr : &timeout, nullptr);
  return n == kNotOurs ? libc::EpollWait(epfd, events, max_events, timeout_ms) : n;
}

int epoll_pwait(int epfd, struct epoll_event* events, int max_events, int timeout_ms,
                const sigset_t* sigmask) {
  const struct timespec timeout = preload::Deadline::FromMilliseconds(timeout_ms);
  const int n = preload::EpollWaitRecords(epfd, events, max_events,
                                          timeout_ms < 0 ? nullptr : &timeout, sigmask);
  return n == kNotOurs ? libc::EpollPwait(epfd, events, max_events, timeout_ms, sigmask) : n;
}

int epoll_pwait2(int epfd, struct epoll_event* events, int max_events,
                 const struct timespec* timeout, const sigset_t* sigmask) {
  const int n = preload::EpollWaitRecords(epfd, events, max_events, timeout, sigmask);
  return n == kNotOurs ? libc::EpollPwait2(epfd, events, max_events, timeout, sigmask) : n;
}

}  // extern "C"
