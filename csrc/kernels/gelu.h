// GELU with the exact (erf) form BERT uses: x · Φ(x) = 0.5 · x · (1 + erf(x / √2)).
//
// ONNX Runtime's Gelu kernel took ~0.15 ms per MiniLM layer at ~130 tokens (11 % of int8 time);
// the AVX-512 version here (gelu_avx512.cc) takes about half of that, within 1e-6 of std::erf.
#pragma once

#include <cstdint>

namespace crossrank {

// out[i] = GELU(in[i]) for i < count; in and out may be the same array.
void gelu(const float* in, float* out, int64_t count);

// The plain-loop version gelu() falls back to on CPUs without AVX-512 (std::erf).
void gelu_portable(const float* in, float* out, int64_t count);

}  // namespace crossrank
