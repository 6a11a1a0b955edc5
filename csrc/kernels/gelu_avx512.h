// GELU for CPUs with AVX-512F (compiled with AVX-512 for this file only; see gelu.h).
#pragma once

#include <cstdint>

namespace crossrank::avx512 {

void gelu(const float* in, float* out, int64_t count);

}  // namespace crossrank::avx512
