#include "socket/seal_pool.h"

#include <pthread.h>
#include <sched.h>

#include "control/knobs.h"

namespace ktls::socket {

SealPool& SealPool::Get() {
  // Leaked on purpose: workers must outlive static destruction at exit.
  static auto* pool = new SealPool();
  return *pool;
}

SealPool::SealPool() {
  control::Knobs& knobs = control::GetKnobs();
  const int configured = knobs.sw_threads.load();
  const size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  // The caller seals too, so N CPUs need N-1 helpers.
  const size_t threads = (configured > 0 ? static_cast<size_t>(configured) : cpus) - 1;
  const bool bind = knobs.bind_threads.load() != 0;
  for (size_t i = 0; i < threads; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i + 1); });
    if (bind) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET((i + 1) % cpus, &set);
      pthread_setaffinity_np(workers_.back().native_handle(), sizeof(set), &set);
    }
    workers_.back().detach();
  }
  control::GetStats().threads.Add(threads);
}

void SealPool::RunShare(Job& job, size_t participant) {
  for (;;) {
    const size_t index = job.next.fetch_add(1);
    if (index >= job.count) return;
    (*job.fn)(participant, index);
    job.done.fetch_add(1);
  }
}

void SealPool::WorkerLoop(size_t participant) {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu_);
      work_ready_.wait(lock, [this] { return !jobs_.empty(); });
      job = jobs_.front();
      // A job stays queued until its indices are all handed out, so every idle worker
      // can join it.
      if (job->next.load() >= job->count) {
        jobs_.pop_front();
        continue;
      }
    }
    RunShare(*job, participant);
    std::lock_guard lock(mu_);
    if (!jobs_.empty() && jobs_.front() == job) jobs_.pop_front();
    job_done_.notify_all();
  }
}

void SealPool::ParallelFor(size_t count, const std::function<void(size_t, size_t)>& fn) {
  if (count == 0) return;
  if (workers_.empty() || count == 1) {
    for (size_t i = 0; i < count; ++i) fn(0, i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->count = count;
  job->fn = &fn;
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(job);
  }
  work_ready_.notify_all();
  control::GetStats().sw_tx_inqueue.Add(count);
  RunShare(*job, 0);
  std::unique_lock lock(mu_);
  job_done_.wait(lock, [&] { return job->done.load() == count; });
  control::GetStats().sw_tx_inqueue.Sub(count);
}

}  // namespace ktls::socket
