// Running a call's batches on worker threads while the calling thread keeps watch: it polls its
// caller (progress, Ctrl-C) every kPollInterval, and any error or cancellation stops every worker.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

#include "runtime/cancel.h"

namespace crossrank {

// How often the calling thread polls during a call (between pairs while tokenizing, on a clock
// while the batches run): Ctrl-C lands within about this long, plus one graph operator.
inline constexpr std::chrono::milliseconds kPollInterval{50};

// Called with (pairs done, pairs total) on the calling thread only; it may throw to stop the call.
using ProgressCallback = std::function<void(size_t, size_t)>;

// Calls poll when kPollInterval has passed since the last call; cheap enough to ask between pairs.
class PollClock {
 public:
  explicit PollClock(const ProgressCallback& poll);
  void tick(size_t done, size_t total);

 private:
  const ProgressCallback& poll_;
  std::chrono::steady_clock::time_point next_;
};

// Runs job(worker, i) for every i in [0, count) on `threads` worker threads (worker: 0 to
// threads - 1; job returns the pairs it did) and polls from the calling thread meanwhile, then
// once at the end with (total, total).
// The first error, from a job or from poll, requests cancel (the other jobs stop between pairs,
// their graph runs between operators), every worker is joined, and that error is rethrown. A
// worker passes on a forced unwind (abi::__forced_unwind); no thread is left joinable.
void supervised_for(size_t count, size_t threads, const std::function<size_t(size_t, size_t)>& job,
                    const ProgressCallback& poll, size_t total, CancelSource& cancel);

}  // namespace crossrank
