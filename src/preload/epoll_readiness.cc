// epoll_wait over epoll instances that contain emulated sockets.
//
// Kernel events for emulated sockets are corrected (EPOLLIN only with a whole record,
// EPOLLOUT only with room in our send queue); level-triggered registrations are also
// reported when records are queued in user space although the kernel has nothing. An
// event suppressed for an EPOLLONESHOT registration re-arms it, since the kernel
// disarmed it when it fired; one we report on our own disarms it.
#include <cerrno>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "platform/next_libc.h"
#include "preload/deadline.h"
#include "preload/descriptors.h"
#include "preload/epoll_tracker.h"
#include "preload/readiness.h"

namespace ktls::preload {
namespace {

namespace libc = platform::libc;

constexpr uint32_t kIn = EPOLLIN | EPOLLRDNORM;
constexpr uint32_t kOut = EPOLLOUT | EPOLLWRNORM;

struct Watched {
  EpollTracker::Member member;
  std::shared_ptr<KtlsSocket> socket;
  bool receiving;
  bool sending;
};

void SetEvents(int epfd, const EpollTracker::Member& member, uint32_t events) {
  struct epoll_event event = {};
  event.events = events;
  event.data.u64 = member.data;
  libc::EpollCtl(epfd, EPOLL_CTL_MOD, member.fd, &event);
}

}  // namespace

int EpollWaitRecords(int epfd, struct epoll_event* events, int max_events,
                     const struct timespec* timeout, const sigset_t* sigmask) {
  if (!AnyEmulated() || events == nullptr || max_events <= 0) return kNotOurs;
  std::vector<Watched> watched;
  for (const EpollTracker::Member& member : EpollTracker::Get().EmulatedMembers(epfd)) {
    std::shared_ptr<KtlsSocket> socket = Emulated(member.fd);
    if (!socket) continue;
    const bool receiving = socket->rx_enabled();
    const bool sending = socket->tx_enabled();
    if (receiving || sending) watched.push_back({member, std::move(socket), receiving, sending});
  }
  if (watched.empty()) return kNotOurs;
  std::unordered_map<uint64_t, Watched*> by_data;
  for (Watched& w : watched) {
    if (w.member.unique_data) by_data[w.member.data] = &w;
  }

  const Deadline deadline(timeout);
  for (;;) {
    // Level-triggered readers with records already queued need no kernel event.
    std::vector<Watched*> queued;
    for (Watched& w : watched) {
      const uint32_t want = w.member.events;
      if (w.member.armed && (want & EPOLLET) == 0 && (want & kIn) != 0 && w.receiving &&
          w.socket->HasQueuedRx()) {
        queued.push_back(&w);
      }
    }
    const int wait_ms = queued.empty() ? deadline.RemainingMs() : 0;
    const int n = libc::EpollPwait(epfd, events, max_events, wait_ms, sigmask);
    if (n < 0) return n;

    int out = 0;
    std::unordered_set<int> reported;
    for (int i = 0; i < n; ++i) {
      const struct epoll_event event = events[i];
      auto it = by_data.find(event.data.u64);
      if (it == by_data.end()) {
        events[out++] = event;  // not ours (or ambiguous): the kernel's word stands
        continue;
      }
      Watched& w = *it->second;
      uint32_t bits = event.events;
      if (w.receiving && (bits & kIn) != 0) {
        const short ready = w.socket->ReadyEvents(POLLIN);
        if ((ready & POLLIN) == 0) bits &= ~kIn;
      }
      if (w.sending && (bits & kOut) != 0) {
        const short ready = w.socket->ReadyEvents(POLLOUT);
        if ((ready & POLLOUT) == 0) bits &= ~kOut;
      }
      const bool oneshot = (w.member.events & EPOLLONESHOT) != 0;
      if (bits == 0) {
        if (oneshot) SetEvents(epfd, w.member, w.member.events);
        continue;
      }
      events[out++] = {bits, event.data};
      reported.insert(w.member.fd);
      if (oneshot) {
        EpollTracker::Get().Disarm(epfd, w.member.fd);
        w.member.armed = false;
      }
    }
    for (Watched* w : queued) {
      if (out >= max_events) break;
      if (reported.count(w->member.fd) != 0) continue;
      struct epoll_event event = {};
      event.events = w->member.events & kIn;
      event.data.u64 = w->member.data;
      events[out++] = event;
      if ((w->member.events & EPOLLONESHOT) != 0) {
        // The kernel did not fire it; disarm it as if it had.
        SetEvents(epfd, w->member, EPOLLONESHOT);
        EpollTracker::Get().Disarm(epfd, w->member.fd);
        w->member.armed = false;
      }
    }
    if (out > 0 || wait_ms == 0 || deadline.Expired()) return out;
  }
}

}  // namespace ktls::preload
