#include "bindings/register.h"
#include "kernels/cpu_features.h"
#include "runtime/onnx_runtime.h"

namespace py = pybind11;

namespace crossrank::bindings {

void register_runtime(py::module_& m) {
  m.def("load_onnxruntime", &load_onnxruntime, py::arg("library_path"),
        "dlopen ONNX Runtime's shared library and bind its C API (idempotent).");
  m.def("onnxruntime_loaded", &onnxruntime_loaded);
  m.def("onnxruntime_version", &onnxruntime_version);
  m.attr("ORT_API_VERSION") = ORT_API_VERSION;
  m.attr("KERNELS") = kernel_set();  // the kernel set this CPU runs: "avx512" or "portable"
  // Whether this build and CPU run the bf16 GEMM (AVX512-BF16): the bf16 rung runs only where true.
  m.attr("BF16_KERNELS") = avx512_bf16_available();
  // Whether this build and CPU run the int8 GEMM with per-row scales (AVX512-VNNI): likewise for int8_token.
  m.attr("INT8_TOKEN_KERNELS") = avx512_vnni_available();
}

}  // namespace crossrank::bindings
