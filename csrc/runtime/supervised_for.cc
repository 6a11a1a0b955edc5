#include "runtime/supervised_for.h"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace crossrank {

PollClock::PollClock(const ProgressCallback& poll)
    : poll_(poll), next_(std::chrono::steady_clock::now() + kPollInterval) {}

void PollClock::tick(size_t done, size_t total) {
  if (!poll_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) return;
  next_ = now + kPollInterval;
  poll_(done, total);
}

namespace {

// The workers of one call. The destructor joins them whatever unwinds past it (an error, Ctrl-C,
// a forced unwind): a std::thread destroyed joinable would call std::terminate.
class Workers {
 public:
  Workers() = default;
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;
  ~Workers() { join(); }

  template <typename Work>
  void start(size_t threads, Work work) {
    threads_.reserve(threads);
    for (size_t t = 0; t < threads; ++t) threads_.emplace_back(work, t);
  }
  void join() {
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  std::vector<std::thread> threads_;
};

// What the workers share: the next job, the pairs done, the first error, and who still runs.
struct Shared {
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::atomic<size_t> jobs_done{0};
  std::mutex mutex;
  std::condition_variable finished;
  size_t running = 0;
  std::exception_ptr error;

  void fail(std::exception_ptr e, CancelSource& cancel) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::move(e);
    }
    cancel.request();
  }
  void leave() {
    std::lock_guard<std::mutex> lock(mutex);
    --running;
    finished.notify_all();
  }
};

}  // namespace

void supervised_for(size_t count, size_t threads, const std::function<size_t(size_t, size_t)>& job,
                    const ProgressCallback& poll, size_t total, CancelSource& cancel) {
  Shared shared;
  auto work = [&](size_t worker) {
    struct Leave {  // also on a forced unwind, so that the calling thread stops waiting
      Shared& shared;
      ~Leave() { shared.leave(); }
    } leave{shared};
    try {
      for (size_t i = shared.next++; i < count && !cancel.requested(); i = shared.next++) {
        shared.done += job(worker, i);
        ++shared.jobs_done;
      }
#if defined(__GLIBCXX__)
    } catch (abi::__forced_unwind&) {  // the thread is being ended: it must unwind to its start
      cancel.request();
      throw;
#endif
    } catch (...) {
      shared.fail(std::current_exception(), cancel);
    }
  };
  Workers workers;
  try {
    shared.running = threads;  // before any worker can leave
    workers.start(threads, work);
  } catch (...) {  // a thread could not start: the started ones stop, ~Workers joins them
    cancel.request();
    throw;
  }
  try {
    std::unique_lock<std::mutex> lock(shared.mutex);
    while (!shared.finished.wait_for(lock, kPollInterval, [&] { return shared.running == 0; })) {
      lock.unlock();
      if (poll) poll(shared.done, total);
      lock.lock();
    }
  } catch (...) {  // poll threw (Ctrl-C) or the thread is being ended: stop the workers first
    cancel.request();
    throw;  // ~Workers joins them
  }
  workers.join();
  if (shared.error) std::rethrow_exception(shared.error);
  // A cancel that lands between two jobs ends the loops without an exception: the jobs left
  // undone must not pass for a result (their logits would stay 0).
  if (shared.jobs_done < count) cancel.throw_if_requested();
  if (poll) poll(total, total);
}

}  // namespace crossrank
