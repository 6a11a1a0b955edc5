// Cooperative cancellation of one scoring call: a flag the engine checks between pairs, plus the
// graph runs in flight, which a request stops between operators (ONNX Runtime's terminate flag).
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <mutex>
#include <stdexcept>

namespace crossrank {

// Thrown by a call whose CancelSource was requested.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("the scoring call was cancelled") {}
};

// One per call. request() may come from any thread; the call stops within a graph operator.
class CancelSource {
 public:
  CancelSource() = default;
  CancelSource(const CancelSource&) = delete;
  CancelSource& operator=(const CancelSource&) = delete;

  // Sets the flag and calls every registered stop function once. Thread-safe, idempotent.
  void request();
  bool requested() const noexcept { return requested_.load(std::memory_order_acquire); }
  void throw_if_requested() const {
    if (requested()) throw Cancelled();
  }

  // While alive, request() calls stop (at once if the request came first). A null source: no-op.
  class Registration {
   public:
    Registration(CancelSource* source, std::function<void()> stop);
    ~Registration();
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    CancelSource* source_;
    std::list<std::function<void()>>::iterator entry_;
  };

 private:
  std::atomic<bool> requested_{false};
  std::mutex mutex_;  // guards stoppers_ and orders request() against (un)registration
  std::list<std::function<void()>> stoppers_;
};

}  // namespace crossrank
