// Add + LayerNormalization for CPUs with AVX-512F, widths a multiple of 16 (see layer_norm.h).
#pragma once

#include <cstdint>

#include "kernels/shapes.h"

namespace crossrank::avx512 {

void add_layer_norm(const LayerNormShape& shape, const float* x, const float* residual, const float* gamma,
                    const float* beta, float epsilon, float* out, int64_t first, int64_t last);

}  // namespace crossrank::avx512
