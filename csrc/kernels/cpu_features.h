// Which of crossrank's CPU-specific kernels can run here.
#pragma once

namespace crossrank {

// True when this build has the AVX-512 kernels (*_avx512.cc) and this CPU runs AVX-512F.
bool avx512_available();

// True when this build has the bf16 GEMM kernel (matmul_bf16_avx512.cc) and this CPU runs
// AVX512-BF16 (vdpbf16ps: AMD Zen 4 and later, Intel Cooper Lake and Sapphire Rapids and later).
bool avx512_bf16_available();

// True when this build has the int8 GEMM with per-row scales (matmul_int8_avx512.cc) and this CPU
// runs AVX512-VNNI (vpdpbusd: Intel Cascade Lake and later, AMD Zen 4 and later).
bool avx512_vnni_available();

// The kernels crossrank runs here: "avx512", or "portable" (plain loops, slower than ONNX
// Runtime's own kernels; the engine then runs a bundle's standard graphs).
const char* kernel_set();

}  // namespace crossrank
