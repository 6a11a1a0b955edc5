// Which of crossrank's CPU-specific kernels can run here.
#pragma once

namespace crossrank {

// True when this build has the AVX-512 kernels (*_avx512.cc) and this CPU runs AVX-512F.
bool avx512_available();

// The kernels crossrank runs here: "avx512", or "portable" (plain loops, slower than ONNX
// Runtime's own kernels; the engine then runs a bundle's standard graphs).
const char* kernel_set();

}  // namespace crossrank
