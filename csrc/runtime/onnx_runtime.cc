#include "runtime/onnx_runtime.h"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>

namespace crossrank {
namespace {

std::mutex g_mutex;
const OrtApiBase* g_api_base = nullptr;

}  // namespace

void load_onnxruntime(const std::string& library_path) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_api_base != nullptr) return;
  // RTLD_LOCAL keeps its symbols away from other copies of ONNX Runtime in the process.
  void* handle = dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw std::runtime_error("cannot load ONNX Runtime from " + library_path + ": " + dlerror());
  }
  using GetApiBase = const OrtApiBase* (*)();
  auto get_api_base = reinterpret_cast<GetApiBase>(dlsym(handle, "OrtGetApiBase"));
  if (get_api_base == nullptr) {
    throw std::runtime_error(library_path + " does not export OrtGetApiBase");
  }
  const OrtApiBase* base = get_api_base();
  const OrtApi* api = base->GetApi(ORT_API_VERSION);
  if (api == nullptr) {
    throw std::runtime_error(std::string("ONNX Runtime ") + base->GetVersionString() +
                             " does not serve API version " + std::to_string(ORT_API_VERSION) +
                             " (the headers crossrank was built with); install a newer onnxruntime");
  }
  Ort::InitApi(api);
  g_api_base = base;
}

bool onnxruntime_loaded() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_api_base != nullptr;
}

std::string onnxruntime_version() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_api_base == nullptr) throw std::runtime_error("ONNX Runtime is not loaded");
  return g_api_base->GetVersionString();
}

Ort::Env& onnxruntime_env() {
  if (!onnxruntime_loaded()) throw std::runtime_error("ONNX Runtime is not loaded");
  // Created on first use, after the API table is bound. Deliberately never destroyed:
  // tearing it down during interpreter exit races ONNX Runtime's own static state.
  static Ort::Env* env = new Ort::Env(ORT_LOGGING_LEVEL_WARNING, "crossrank");
  return *env;
}

}  // namespace crossrank
