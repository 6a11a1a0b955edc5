// The attention core for CPUs with AVX-512F: 16-wide FMAs, register-blocked, e^x in vector form.
// Compiled with AVX-512 enabled for this file only; callers check avx512_available() first.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/shapes.h"

namespace crossrank::avx512 {

// Whether the kernel covers this shape (head sizes 32 and 64: MiniLM, BERT-base and -large).
bool handles(const AttentionShape& shape);
size_t scratch_floats(const AttentionShape& shape);
void attend(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths, int64_t unit, float* out,
            float* scratch);

}  // namespace crossrank::avx512
