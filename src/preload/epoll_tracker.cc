#include "preload/epoll_tracker.h"

namespace ktls::preload {

void EpollTracker::Unuse(Set& set, uint64_t data) {
  auto it = set.data_uses.find(data);
  if (it != set.data_uses.end() && --it->second <= 0) set.data_uses.erase(it);
}

void EpollTracker::RemoveMember(Set& set, int fd) {
  auto it = set.members.find(fd);
  if (it == set.members.end()) return;
  Unuse(set, it->second.data);
  set.members.erase(it);
  set.emulated.erase(fd);
}

EpollTracker& EpollTracker::Get() {
  // Leaked: wrappers may run during static destruction.
  static auto* tracker = new EpollTracker();
  return *tracker;
}

void EpollTracker::Control(int epfd, int op, int fd, const struct epoll_event* event) {
  std::lock_guard lock(mu_);
  tracking_.store(true, std::memory_order_relaxed);
  Set& set = sets_[epfd];
  switch (op) {
    case EPOLL_CTL_ADD:
    case EPOLL_CTL_MOD: {
      if (event == nullptr) return;
      auto [it, added] = set.members.try_emplace(fd);
      Registration& reg = it->second;
      if (!added) Unuse(set, reg.data);
      ++set.data_uses[event->data.u64];
      reg.events = event->events;
      reg.data = event->data.u64;
      reg.armed = true;
      if (emulated_fds_.count(fd) != 0) set.emulated.insert(fd);
      return;
    }
    case EPOLL_CTL_DEL:
      RemoveMember(set, fd);
      return;
    default:
      return;
  }
}

void EpollTracker::Forget(int fd) {
  if (!tracking_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mu_);
  sets_.erase(fd);
  emulated_fds_.erase(fd);
  for (auto& [epfd, set] : sets_) RemoveMember(set, fd);
}

void EpollTracker::ForgetRange(unsigned int first, unsigned int last) {
  if (!tracking_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mu_);
  auto in_range = [first, last](int fd) {
    return static_cast<unsigned int>(fd) >= first && static_cast<unsigned int>(fd) <= last;
  };
  std::erase_if(sets_, [&](const auto& entry) { return in_range(entry.first); });
  std::erase_if(emulated_fds_, in_range);
  for (auto& [epfd, set] : sets_) {
    std::vector<int> gone;
    for (const auto& [fd, reg] : set.members) {
      if (in_range(fd)) gone.push_back(fd);
    }
    for (int fd : gone) RemoveMember(set, fd);
  }
}

void EpollTracker::MarkEmulated(int fd) {
  std::lock_guard lock(mu_);
  tracking_.store(true, std::memory_order_relaxed);
  emulated_fds_.insert(fd);
  for (auto& [epfd, set] : sets_) {
    if (set.members.count(fd) != 0) set.emulated.insert(fd);
  }
}

std::vector<EpollTracker::Member> EpollTracker::EmulatedMembers(int epfd) {
  std::vector<Member> members;
  if (!tracking_.load(std::memory_order_relaxed)) return members;
  std::lock_guard lock(mu_);
  auto it = sets_.find(epfd);
  if (it == sets_.end()) return members;
  for (int fd : it->second.emulated) {
    const Registration& reg = it->second.members.at(fd);
    members.push_back({fd, reg.events, reg.data, reg.armed, it->second.data_uses[reg.data] == 1});
  }
  return members;
}

void EpollTracker::Disarm(int epfd, int fd) {
  std::lock_guard lock(mu_);
  auto it = sets_.find(epfd);
  if (it == sets_.end()) return;
  auto member = it->second.members.find(fd);
  if (member != it->second.members.end()) member->second.armed = false;
}

}  // namespace ktls::preload
