#include "bindings/gil.h"

#include <chrono>
#include <thread>

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#endif

namespace crossrank::bindings {
namespace {

// Blocks this thread until the process ends, touching nothing.
[[noreturn]] void park_until_exit() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
}

// Takes the GIL back, or parks the thread when the interpreter is exiting.
void take_gil_back(PyThreadState* saved) {
  if (interpreter_finalizing()) park_until_exit();
  try {
    PyEval_RestoreThread(saved);
#if defined(__GLIBCXX__)
  } catch (abi::__forced_unwind&) {  // finalization began since the check: CPython ends the thread
    park_until_exit();
#endif
  }
}

}  // namespace

bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

void without_gil(const std::function<void()>& work) {
  PyThreadState* const saved = PyEval_SaveThread();
  try {
    work();
  } catch (...) {  // also a forced unwind from a GIL request inside work at exit: parked here
    take_gil_back(saved);
    throw;
  }
  take_gil_back(saved);
}

}  // namespace crossrank::bindings
