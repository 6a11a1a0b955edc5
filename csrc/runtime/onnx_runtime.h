// Loading ONNX Runtime's shared library by path at run time.
//
// The onnxruntime Python wheel ships libonnxruntime.so.1.<version> without the
// plain soname, and no headers. We compile against any API-compatible headers
// (ORT_API_MANUAL_INIT) and bind the API table from the wheel's library here.
#pragma once

#include <string>

#include <onnxruntime_cxx_api.h>

namespace crossrank {

// dlopen()s the library and initialises the C++ API. Idempotent; throws
// std::runtime_error when the library or a compatible API version is missing.
void load_onnxruntime(const std::string& library_path);

bool onnxruntime_loaded();

// Version string reported by the loaded library, e.g. "1.32.0".
std::string onnxruntime_version();

// The process-wide environment shared by all sessions. Requires load_onnxruntime().
Ort::Env& onnxruntime_env();

}  // namespace crossrank
