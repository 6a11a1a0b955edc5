// C = A · B (+ bias) in int8 with one scale per row of A and one per column of B: the GEMM of the
// "int8_token" precision rung.
//
// Each row of A (one token) is quantized on the fly with its own symmetric scale (absmax / 127),
// so a row's result depends on that row alone: scores do not depend on batch mates, unlike ONNX
// Runtime's dynamic int8 (one scale per tensor, i.e. per batch), and need no calibration, unlike
// static int8 (one scale per tensor fixed at export). B is a constant weight quantized once per
// column (symmetric, absmax / 127) and packed (PackedInt8Weights). Products are summed exactly in
// int32 (vpdpbusd on CPUs with AVX512-VNNI, matmul_int8_avx512.cc; A is stored as q + 128 so the
// instruction's unsigned operand holds it, and 128 · the column's sum is taken back), then
// C = float(sum) · (row scale · column scale) + bias in one fused multiply-add (then GELU, when
// the weights carry Activation::kGelu). The quantization, the GEMM and the dequantization with the
// bias (and the GELU) are one pass over A and C. The portable version (plain loops, the same
// arithmetic; std::erf for a GELU) gives bit-identical results without a GELU and serves tests and
// CPUs without the instruction; the export builds the rung only where the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/shapes.h"

namespace crossrank {

// B [depth, columns] (row-major fp32) quantized per column and packed for the micro-kernel: panels
// of 16 columns, each [depth / 4 quads][16 columns][4] int8 (depth and the last panel's missing
// columns padded with zeros); per column its scale, 128 · the sum of its int8 values, its bias;
// and the activation applied to C as it is stored.
class PackedInt8Weights {
 public:
  PackedInt8Weights(const float* b, int64_t depth, int64_t columns, const float* bias,
                    Activation activation = Activation::kNone);

  const MatMulShape& shape() const { return shape_; }
  Activation activation() const { return activation_; }
  const int8_t* panels() const { return panels_.data(); }
  const float* scales() const { return scales_.data(); }
  const int32_t* offsets() const { return offsets_.data(); }
  const float* bias() const { return bias_.data(); }

 private:
  MatMulShape shape_;
  Activation activation_;
  std::vector<int8_t> panels_;
  std::vector<float> scales_;    // per column, padded to whole panels with zeros
  std::vector<int32_t> offsets_;  // 128 · sum over depth of the column's int8 values
  std::vector<float> bias_;      // zeros when none
};

// Rows of A the kernel quantizes at a time.
inline constexpr int64_t kInt8RowChunk = 32;

// Bytes of scratch memory matmul_int8_rows needs: one row chunk of A as uint8 quads and its scales.
size_t matmul_int8_scratch_bytes(const MatMulShape& shape);

// Row ROW of A (DEPTH floats) quantized: its scale (absmax / 127, 0 for a zero row) and
// q + 128 in OUT (DEPTH bytes, padded to whole quads with 128, i.e. q = 0).
float quantize_row_int8(const float* row, int64_t depth, uint8_t* out);

// Rows [first, last) of C = A · B + bias (then the weights' activation): A [rows, depth] and C [rows, columns], row-major fp32.
// scratch: matmul_int8_scratch_bytes(weights.shape()) bytes, 64-byte aligned, not shared with a
// concurrent call. AVX512-VNNI where the CPU has it, else the portable loops.
void matmul_int8_rows(const PackedInt8Weights& weights, const float* a, int64_t first, int64_t last, float* c,
                      uint8_t* scratch);

// The plain-loop version (bit-identical results), callable directly so tests cover it anywhere.
void matmul_int8_rows_portable(const PackedInt8Weights& weights, const float* a, int64_t first, int64_t last,
                               float* c, uint8_t* scratch);

}  // namespace crossrank
