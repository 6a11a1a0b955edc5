// The bf16 GEMM for CPUs with AVX512-BF16 (compiled with -mavx512bf16 for this file only; see
// matmul_bf16.h).
#pragma once

#include <cstdint>

#include "kernels/shapes.h"

namespace crossrank::avx512 {

// C[rows, columns] = A[rows, depth] · B + bias for at most kBf16RowChunk rows: A rounded to bf16
// pairs into a_pairs (rows x shape.pairs() words), then register tiles of up to 8 rows x 32 columns.
// panels and bias as PackedBf16Weights holds them; ACTIVATION applied as C is stored.
void matmul_bf16(const MatMulShape& shape, const uint16_t* panels, const float* bias, Activation activation,
                 const float* a, int64_t rows, float* c, uint32_t* a_pairs);

}  // namespace crossrank::avx512
