// The attention core of a BERT layer: softmax(Q·Kᵀ / √d) · V per head, on packed projections.
//
// ONNX Runtime's (Q)Attention kernel runs this core as two small single-precision GEMMs per head
// with a softmax pass in between; for ~130-token pairs that took 0.45 ms of a 1.5 ms layer on one
// core. This kernel keeps one head's scores in L1 and fuses scaling, masking, the softmax and the
// weighted sum of V: AVX-512 where the CPU has it (self_attention_avx512.cc), plain loops elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/shapes.h"

namespace crossrank {

// Floats of scratch memory one unit needs.
size_t attention_scratch_floats(const AttentionShape& shape);

// Computes unit `unit` (sequence unit / heads, head unit % heads).
//   qkv:         [batch, sequence, 3 * hidden]: Q | K | V, each head's columns contiguous in each.
//   key_lengths: [batch]; positions at or past a sequence's length are right padding: no query
//                attends to them, and their own output rows are written as zeros.
//   out:         [batch, shape.output_rows(), hidden]: the first output_rows() query positions.
//   scratch:     attention_scratch_floats(shape) floats, not shared with a concurrent call.
void self_attention_unit(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths,
                         int64_t unit, float* out, float* scratch);

// shape.bf16 runs the bf16-product kernel where the CPU has AVX512-BF16, the fp32 one elsewhere.
//
// The plain-loop implementation that self_attention_unit falls back to (CPUs without AVX-512,
// head sizes other than 32 and 64); callable directly so tests cover it on any machine.
void self_attention_unit_portable(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths,
                                  int64_t unit, float* out, float* scratch);

}  // namespace crossrank
