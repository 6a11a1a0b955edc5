// C = A · B (+ bias) with bf16 products and fp32 accumulation: the GEMM of the "bf16" precision rung.
//
// ONNX Runtime's CPU provider has no bf16 MatMul on x86 (1.32: "Could not find an implementation for
// MatMul(13)" with bfloat16 inputs), so the rung runs this kernel as the custom op MatMulBf16
// (runtime/custom_ops.h). B is a constant weight, rounded to bf16 and packed once
// (PackedBf16Weights); A is fp32, rounded to bf16 on the fly; products are exact in fp32 and summed
// in fp32 (vdpbf16ps on CPUs with AVX512-BF16, matmul_bf16_avx512.cc). The portable version
// (plain loops, the same rounding and summation order) serves tests and CPUs without the
// instruction; it is never chosen for speed: the export builds the rung only where the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/shapes.h"

namespace crossrank {

// fp32 -> bf16 the way vcvtne2ps2bf16 rounds: to nearest even, NaN made quiet, denormals to zero.
uint16_t round_to_bf16(float value);

// B [depth, columns] (row-major fp32) rounded to bf16 and packed for the micro-kernel: panels of
// 16 columns, each [depth / 2 pairs][16 columns][2] (odd depth and the last panel's missing columns
// padded with zeros), plus the bias (zeros when none) and the activation applied to C as it is stored.
class PackedBf16Weights {
 public:
  PackedBf16Weights(const float* b, int64_t depth, int64_t columns, const float* bias,
                    Activation activation = Activation::kNone);

  const MatMulShape& shape() const { return shape_; }
  Activation activation() const { return activation_; }
  const uint16_t* panels() const { return panels_.data(); }
  const float* bias() const { return bias_.data(); }

 private:
  MatMulShape shape_;
  Activation activation_;
  std::vector<uint16_t> panels_;
  std::vector<float> bias_;
};

// Rows of A the kernel converts to bf16 at a time; scratch holds their bf16 pairs.
inline constexpr int64_t kBf16RowChunk = 32;

// uint32 words of scratch memory matmul_bf16_rows needs (one row chunk of A as bf16 pairs).
size_t matmul_bf16_scratch_words(const MatMulShape& shape);

// Rows [first, last) of C = A · B + bias (then the weights' activation): A [rows, depth] and C [rows, columns], row-major fp32.
// scratch: matmul_bf16_scratch_words(weights.shape()) words, not shared with a concurrent call.
// AVX512-BF16 where the CPU has it, else the portable loops.
void matmul_bf16_rows(const PackedBf16Weights& weights, const float* a, int64_t first, int64_t last, float* c,
                      uint32_t* scratch);

// The plain-loop version (same rounding, products summed in the instruction's order), callable
// directly so tests cover it on any machine.
void matmul_bf16_rows_portable(const PackedBf16Weights& weights, const float* a, int64_t first, int64_t last,
                               float* c, uint32_t* scratch);

}  // namespace crossrank
