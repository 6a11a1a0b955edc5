// Running C++ without the GIL, safely at interpreter exit too.
//
// CPython < 3.14 ends a thread that asks for the GIL once the interpreter is finalizing with
// pthread_exit: a forced unwind that no C++ frame may stop, and that aborts the process when it
// runs into a destructor (py::gil_scoped_release's) or a catch (...) that does not rethrow it.
// CPython 3.14 parks such a thread instead; these helpers do the same on every version.
#pragma once

#include <functional>

#include <pybind11/pybind11.h>

namespace crossrank::bindings {

// True once the interpreter has begun to shut down; safe to ask without the GIL.
bool interpreter_finalizing();

// Runs work() with the GIL released, then takes it back; at interpreter exit the thread parks
// (blocks, holding nothing, until the process ends) instead. work's exceptions pass through.
// Use it instead of py::gil_scoped_release around anything that may still run at exit.
void without_gil(const std::function<void()>& work);

}  // namespace crossrank::bindings
