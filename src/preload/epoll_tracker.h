// The application's epoll registrations, as far as the interposer needs them.
//
// The kernel reports readiness of the TCP socket; for a socket whose receive side we
// emulate, "readable" must instead mean "a whole record is queued". epoll_wait's
// wrapper therefore needs to know which registrations of an epoll instance belong to
// emulated sockets, with their event mask and data (events come back carrying only the
// data). Registrations are tracked from the first epoll_ctl on, because applications
// (nginx) register a connection long before its TLS handshake enables kTLS.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ktls::preload {

class EpollTracker {
 public:
  static EpollTracker& Get();

  // After epoll_ctl(epfd, op, fd, event) succeeded.
  void Control(int epfd, int op, int fd, const struct epoll_event* event);
  // `fd` was closed: it leaves every set, and if it was an epoll instance its set goes.
  void Forget(int fd);
  // Every descriptor in [first, last] was closed (close_range, closefrom).
  void ForgetRange(unsigned int first, unsigned int last);
  // `fd` has just become an emulated socket.
  void MarkEmulated(int fd);

  struct Member {
    int fd;
    uint32_t events;
    uint64_t data;
    bool armed;  // false: an EPOLLONESHOT registration that fired (until EPOLL_CTL_MOD)
    // No other registration in the set has the same data, so a kernel event with this
    // data is this member's.
    bool unique_data;
  };
  // The registrations in `epfd` of emulated sockets.
  std::vector<Member> EmulatedMembers(int epfd);
  // An EPOLLONESHOT registration was reported to the application.
  void Disarm(int epfd, int fd);

  void PrepareFork() { mu_.lock(); }
  void ParentAfterFork() { mu_.unlock(); }
  void ChildAfterFork() { mu_.unlock(); }

 private:
  struct Registration {
    uint32_t events = 0;
    uint64_t data = 0;
    bool armed = true;
  };
  struct Set {
    std::unordered_map<int, Registration> members;
    std::unordered_set<int> emulated;             // members that are emulated sockets
    std::unordered_map<uint64_t, int> data_uses;  // how many members carry each data
  };

  static void Unuse(Set& set, uint64_t data);
  static void RemoveMember(Set& set, int fd);

  std::mutex mu_;
  std::unordered_map<int, Set> sets_;
  std::unordered_set<int> emulated_fds_;
  std::atomic<bool> tracking_{false};  // anything recorded: Forget() must look
};

}  // namespace ktls::preload
