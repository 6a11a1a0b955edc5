// The int8 GEMM with per-row activation scales for CPUs with AVX512-VNNI (compiled with
// -mavx512vnni for this file only; see matmul_int8.h).
#pragma once

#include <cstdint>

#include "kernels/shapes.h"

namespace crossrank::avx512 {

// C[rows, columns] = A[rows, depth] · B + bias for at most kInt8RowChunk rows: A quantized per row
// into scratch (rows x shape.quads() x 4 bytes, then the rows' scales), then register tiles of up
// to 8 rows x 32 columns, ACTIVATION applied as they are stored. panels, scales, offsets and bias as
// PackedInt8Weights holds them.
void matmul_int8(const MatMulShape& shape, const int8_t* panels, const float* scales, const int32_t* offsets,
                 const float* bias, Activation activation, const float* a, int64_t rows, float* c,
                 uint8_t* scratch);

}  // namespace crossrank::avx512
