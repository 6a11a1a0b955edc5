// One conversion of C++ exceptions into the status ONNX Runtime expects from a custom operator's
// kernel: exceptions must not cross its C API. Every crossrank operator's entry points go through it.
#pragma once

#include <exception>

#include <onnxruntime_cxx_api.h>

namespace crossrank {

// Runs BODY (which returns nullptr or an error status), turning a C++ exception into a status.
template <typename Body>
OrtStatusPtr guarded(Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return Ort::Status(e).release();
  }
}

}  // namespace crossrank
