// poll, ppoll, select and pselect over emulated sockets.
#include <cerrno>
#include <chrono>
#include <memory>
#include <vector>

#include "platform/next_libc.h"
#include "preload/deadline.h"
#include "preload/descriptors.h"
#include "preload/readiness.h"

namespace ktls::preload {
namespace {

namespace libc = platform::libc;

constexpr short kIn = POLLIN | POLLRDNORM;
constexpr short kOut = POLLOUT | POLLWRNORM;

std::shared_ptr<KtlsSocket> Offloaded(int fd) {
  std::shared_ptr<KtlsSocket> socket = Emulated(fd);
  if (socket && (socket->rx_enabled() || socket->tx_enabled())) return socket;
  return nullptr;
}

}  // namespace

int PollRecords(struct pollfd* fds, nfds_t nfds, const struct timespec* timeout,
                const sigset_t* sigmask) {
  if (!AnyEmulated() || fds == nullptr) return kNotOurs;
  std::vector<std::shared_ptr<KtlsSocket>> sockets(nfds);
  std::vector<bool> receiving(nfds, false);
  bool any = false;
  for (nfds_t i = 0; i < nfds; ++i) {
    sockets[i] = Offloaded(fds[i].fd);
    if (!sockets[i]) continue;
    any = true;
    receiving[i] = sockets[i]->rx_enabled();
  }
  if (!any) return kNotOurs;

  const Deadline deadline(timeout);
  std::vector<struct pollfd> kernel(fds, fds + nfds);
  for (;;) {
    // What we can say without the kernel: records queued, room in the send queue.
    bool ready_now = false;
    for (nfds_t i = 0; i < nfds; ++i) {
      fds[i].revents = 0;
      kernel[i].events = fds[i].events;
      if (!sockets[i]) continue;
      short own = 0;
      const short wanted_in = static_cast<short>(fds[i].events & kIn);
      const short wanted_out = static_cast<short>(fds[i].events & kOut);
      if (wanted_in != 0 && receiving[i] && sockets[i]->HasQueuedRx()) own |= wanted_in;
      if (wanted_out != 0) own |= sockets[i]->ReadyEvents(wanted_out);
      fds[i].revents = own;
      kernel[i].events = sockets[i]->KernelEvents(fds[i].events);
      ready_now = ready_now || own != 0;
    }
    struct timespec wait = {0, 0};
    const bool forever = !ready_now && deadline.forever();
    if (!ready_now) wait = deadline.Remaining();
    const int n = libc::Ppoll(kernel.data(), nfds, forever ? nullptr : &wait, sigmask);
    if (n < 0) return -1;
    int ready = 0;
    for (nfds_t i = 0; i < nfds; ++i) {
      short from_kernel = kernel[i].revents;
      if (receiving[i]) {
        // The kernel's "readable" is ciphertext: readable for the application once a
        // whole record is in (ReadyEvents reads ahead to find out).
        from_kernel &= static_cast<short>(~kIn);
        if ((kernel[i].revents & (kIn | POLLHUP | POLLERR | POLLRDHUP)) != 0) {
          fds[i].revents |= sockets[i]->ReadyEvents(static_cast<short>(fds[i].events & kIn));
        }
      }
      fds[i].revents |= from_kernel;
      if (fds[i].revents != 0) ++ready;
    }
    if (ready > 0 || ready_now || deadline.Expired()) return ready;
  }
}

int SelectRecords(int nfds, fd_set* read_fds, fd_set* write_fds, fd_set* except_fds,
                  const struct timespec* timeout, const sigset_t* sigmask,
                  struct timeval* remaining) {
  if (!AnyEmulated() || nfds <= 0) return kNotOurs;
  const int limit = nfds < FD_SETSIZE ? nfds : FD_SETSIZE;
  std::vector<struct pollfd> fds;
  bool any = false;
  for (int fd = 0; fd < limit; ++fd) {
    short events = 0;
    if (read_fds != nullptr && FD_ISSET(fd, read_fds)) events |= POLLIN;
    if (write_fds != nullptr && FD_ISSET(fd, write_fds)) events |= POLLOUT;
    if (except_fds != nullptr && FD_ISSET(fd, except_fds)) events |= POLLPRI;
    if (events == 0) continue;
    fds.push_back({fd, events, 0});
    any = any || Offloaded(fd) != nullptr;
  }
  if (!any) return kNotOurs;

  const auto start = std::chrono::steady_clock::now();
  const int n = PollRecords(fds.data(), fds.size(), timeout, sigmask);
  if (remaining != nullptr && timeout != nullptr) {
    // Linux writes the time not slept back into select's timeout.
    const auto total =
        std::chrono::seconds(timeout->tv_sec) + std::chrono::nanoseconds(timeout->tv_nsec);
    auto left = total - (std::chrono::steady_clock::now() - start);
    if (left.count() < 0) left = left.zero();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
    remaining->tv_sec = static_cast<time_t>(us / 1000000);
    remaining->tv_usec = static_cast<suseconds_t>(us % 1000000);
  }
  if (n < 0) return n;
  for (const struct pollfd& p : fds) {
    if ((p.revents & POLLNVAL) != 0) {
      errno = EBADF;
      return -1;
    }
  }
  if (read_fds != nullptr) FD_ZERO(read_fds);
  if (write_fds != nullptr) FD_ZERO(write_fds);
  if (except_fds != nullptr) FD_ZERO(except_fds);
  int bits = 0;
  for (const struct pollfd& p : fds) {
    // The kernel's select sets: error and hang-up count as readable (and errors as
    // writable), priority data as an exception.
    if ((p.events & POLLIN) != 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      FD_SET(p.fd, read_fds);
      ++bits;
    }
    if ((p.events & POLLOUT) != 0 && (p.revents & (POLLOUT | POLLERR)) != 0) {
      FD_SET(p.fd, write_fds);
      ++bits;
    }
    if ((p.events & POLLPRI) != 0 && (p.revents & POLLPRI) != 0) {
      FD_SET(p.fd, except_fds);
      ++bits;
    }
  }
  return bits;
}

}  // namespace ktls::preload
