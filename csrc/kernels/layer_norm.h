// Residual add and LayerNormalization in one pass: out = LN(x + residual) · gamma + beta per row.
//
// Each BERT sub-layer ends this way. ONNX Runtime's fused SkipLayerNormalization CPU kernel was
// measured ~3x slower than its Add + LayerNormalization (onnx_session.h), and those two took
// ~0.15 ms per MiniLM layer at ~130 tokens; one pass over rows that stay in L1 does the same work.
#pragma once

#include <cstdint>

#include "kernels/shapes.h"

namespace crossrank {

// Rows [first, last) of out = (s - mean(s)) / sqrt(var(s) + epsilon) · gamma + beta, s = x + residual.
// out may alias x or residual.
void add_layer_norm(const LayerNormShape& shape, const float* x, const float* residual, const float* gamma,
                    const float* beta, float epsilon, float* out, int64_t first, int64_t last);

// The plain-loop version add_layer_norm falls back to (CPUs without AVX-512, widths not a
// multiple of 16).
void add_layer_norm_portable(const LayerNormShape& shape, const float* x, const float* residual,
                             const float* gamma, const float* beta, float epsilon, float* out, int64_t first,
                             int64_t last);

}  // namespace crossrank
