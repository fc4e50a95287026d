// A process-wide pool of crypto threads that seal the records of one large write (or
// sendfile batch) side by side. Records keep their order because each has its own
// reserved sequence number and its own slot in the output; the pool only runs them.
// Sized by kern.ipc.tls.sw_threads (0: one per CPU) and pinned to CPUs when
// kern.ipc.tls.bind_threads is set, both read when the pool starts.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ktls::socket {

class SealPool {
 public:
  static SealPool& Get();

  // Worker threads besides the caller; 0 means parallel sealing is off.
  size_t workers() const { return workers_.size(); }

  // Runs fn(participant, index) for every index in [0, count), spread over the workers
  // and the calling thread, and returns when all are done. `participant` is 0 for the
  // caller and 1..workers() for pool threads, so callers can keep per-thread state.
  void ParallelFor(size_t count, const std::function<void(size_t, size_t)>& fn);

 private:
  struct Job {
    size_t count = 0;
    const std::function<void(size_t, size_t)>* fn = nullptr;
    std::atomic<size_t> next{0};
    std::atomic<size_t> done{0};
  };

  SealPool();
  void WorkerLoop(size_t participant);
  static void RunShare(Job& job, size_t participant);

  std::mutex mu_;
  std::condition_variable work_ready_;
  std::condition_variable job_done_;
  std::deque<std::shared_ptr<Job>> jobs_;
  std::vector<std::thread> workers_;
};

}  // namespace ktls::socket
