#include "bindings/gil.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace py = pybind11;

namespace crossrank::bindings {
namespace {

// How long the atexit handler waits for calls in flight. A graph run stops within one operator
// (milliseconds); what it cannot stop is a tokenizer call already running (about 1 ms per 10
// pairs of 500 words), so past this an exit goes on as it did before the handler.
constexpr std::chrono::seconds kExitWait{5};

// The calls running inside without_gil, and whether the interpreter is exiting. Leaked on
// purpose: a thread may still touch them while static destructors run, or hold the mutex at a fork.
struct InFlight {
  std::mutex mutex;
  std::condition_variable idle;
  size_t calls = 0;
  CancelSource exit;  // requested at exit; each call's stop source is registered with it
  bool exiting = false;
  unsigned long main_thread = 0;  // PyThread_get_thread_ident() of the main thread
};

InFlight* g_in_flight = new InFlight();

InFlight& in_flight() { return *g_in_flight; }

// In a forked child only the forking thread runs: the parent's calls are not its own, and another
// thread may have held the mutex at the fork. It starts afresh, with itself as the main thread.
void reset_after_fork_in_child() {
  g_in_flight = new InFlight();  // the parent's copy is left as it is: its mutex may be locked
  g_in_flight->main_thread = PyThread_get_thread_ident();
}

// Blocks this thread until the process ends, touching nothing.
[[noreturn]] void park_until_exit() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
}

bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

// Counts a call in, unless exit stops this thread: then the caller parks.
bool enter() {
  InFlight& state = in_flight();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.exiting && PyThread_get_thread_ident() != state.main_thread) return false;
  ++state.calls;
  return true;
}

void leave() {
  InFlight& state = in_flight();
  std::lock_guard<std::mutex> lock(state.mutex);
  --state.calls;
  state.idle.notify_all();
}

// Takes the GIL back, or parks the thread when the interpreter is exiting.
void take_gil_back(PyThreadState* saved) {
  if (exit_stops_this_thread()) park_until_exit();
  try {
    PyEval_RestoreThread(saved);
#if defined(__GLIBCXX__)
  } catch (abi::__forced_unwind&) {  // finalization began since the check: CPython ends the thread
    park_until_exit();
#endif
  }
}

// The atexit handler: stops every call in flight and waits (GIL released) until none is left.
void stop_calls_at_exit() {
  py::gil_scoped_release release;  // the calls' polls may be waiting for the GIL
  InFlight& state = in_flight();
  std::unique_lock<std::mutex> lock(state.mutex);
  state.exiting = true;
  state.exit.request();
  state.idle.wait_for(lock, kExitWait, [&] { return state.calls == 0; });
}

}  // namespace

bool exit_stops_this_thread() {
  InFlight& state = in_flight();
  std::lock_guard<std::mutex> lock(state.mutex);
  return (state.exiting || finalizing()) && PyThread_get_thread_ident() != state.main_thread;
}

void without_gil(const std::function<void()>& work, CancelSource* stop) {
  PyThreadState* const saved = PyEval_SaveThread();
  if (!enter()) park_until_exit();
  try {
    // The exit stops this call, unless it runs on the main thread (which runs the exit itself).
    const bool stoppable = stop != nullptr && PyThread_get_thread_ident() != in_flight().main_thread;
    const CancelSource::Registration on_exit(stoppable ? &in_flight().exit : nullptr, [stop] { stop->request(); });
    work();
  } catch (...) {  // also a forced unwind from a GIL request inside work at exit: parked here
    leave();
    take_gil_back(saved);
    throw;
  }
  leave();
  take_gil_back(saved);
}

size_t native_calls_in_flight() {
  InFlight& state = in_flight();
  std::lock_guard<std::mutex> lock(state.mutex);
  return state.calls;
}

void register_exit_handler(py::module_& m) {
  in_flight().main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  m.def("native_calls_in_flight", &native_calls_in_flight,
        "Calls running without the GIL now (scoring, tokenizing), from any thread.");
  py::module_::import("atexit").attr("register")(py::cpp_function(&stop_calls_at_exit));
  const py::module_ os = py::module_::import("os");
  if (py::hasattr(os, "register_at_fork")) {  // POSIX
    os.attr("register_at_fork")(py::arg("after_in_child") = py::cpp_function(&reset_after_fork_in_child));
  }
}

}  // namespace crossrank::bindings
