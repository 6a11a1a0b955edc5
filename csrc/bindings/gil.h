// Running C++ without the GIL, safely at interpreter exit too.
//
// CPython < 3.14 ends a thread that asks for the GIL once the interpreter is finalizing with
// pthread_exit: a forced unwind that no C++ frame may stop, and that aborts the process when it
// runs into a destructor (py::gil_scoped_release's) or a catch (...) that does not rethrow it.
// CPython 3.14 parks such a thread instead; these helpers do the same on every version.
//
// Parking alone left a window: a daemon thread inside a graph run notices finalization only at its
// next poll (every 50 ms), and a small interpreter finalizes faster than that, so exit() could run
// ONNX Runtime's static destructors under a running session (a SIGSEGV at exit, seen once in CI).
// So the module registers an atexit handler (it runs before finalization begins) that stops every
// call in flight, waits until none is left, and makes later calls of other threads park instead
// of starting. The main thread, which runs the exit itself, is never stopped or parked.
#pragma once

#include <functional>

#include <pybind11/pybind11.h>

#include "runtime/cancel.h"

namespace crossrank::bindings {

// True on a thread other than the main one once the interpreter has begun to exit (our atexit
// handler has run, or finalization began); safe to ask without the GIL. A call that sees it must
// stop and not take the GIL again. (The main thread runs the exit: it may take the GIL.)
bool exit_stops_this_thread();

// Runs work() with the GIL released, then takes it back; at interpreter exit the thread parks
// (blocks, holding nothing, until the process ends) instead. work's exceptions pass through.
// stop (may be null) is requested when the interpreter begins to exit while work runs.
// Use it instead of py::gil_scoped_release around anything that may still run at exit.
void without_gil(const std::function<void()>& work, CancelSource* stop = nullptr);

// Calls inside without_gil now, from any thread.
size_t native_calls_in_flight();

// Registers the atexit handler described above, and an at-fork hook that starts a forked child
// with no calls in flight; m gets native_calls_in_flight() for tests.
void register_exit_handler(pybind11::module_& m);

}  // namespace crossrank::bindings
