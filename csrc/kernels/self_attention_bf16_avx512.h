// The attention core with bf16 products, for CPUs with AVX512-BF16: Q, K, the softmax weights and V
// rounded to bf16 (round to nearest even), their products summed in fp32 by vdpbf16ps, which does
// two multiply-adds per lane where an fp32 FMA does one. Scaling and softmax stay fp32 (the shared
// softmax16_avx512.h). The kernel rungs' graphs ask for it (SelfAttention's bf16 attribute, set by
// crossrank/export/weight_matmul_graph.py): their GEMMs already round activations to bf16 or int8.
// Compiled with AVX512-BF16 for this file only; callers check avx512_bf16_available() first.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/shapes.h"

namespace crossrank::avx512_bf16 {

// Whether the kernel covers this shape (head sizes 32 and 64).
bool handles(const AttentionShape& shape);
size_t scratch_floats(const AttentionShape& shape);
void attend(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths, int64_t unit, float* out,
            float* scratch);

}  // namespace crossrank::avx512_bf16
