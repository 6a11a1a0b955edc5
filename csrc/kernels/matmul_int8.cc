#include "kernels/matmul_int8.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/cpu_features.h"
#include "kernels/gelu.h"
#include "kernels/matmul_int8_avx512.h"

namespace crossrank {
namespace {

// round(x / scale) for symmetric int8, as the AVX-512 path computes it: x · (127 / absmax), rounded
// to nearest even (vcvtps2dq under the default rounding mode), clamped to [-127, 127].
int32_t quantize(float x, float inverse) {
  const float q = std::nearbyint(x * inverse);
  return static_cast<int32_t>(std::min(127.0f, std::max(-127.0f, q)));
}

}  // namespace

float quantize_row_int8(const float* row, int64_t depth, uint8_t* out) {
  float absmax = 0.0f;
  for (int64_t k = 0; k < depth; ++k) absmax = std::max(absmax, std::fabs(row[k]));
  const float inverse = absmax > 0.0f ? 127.0f / absmax : 0.0f;
  for (int64_t k = 0; k < depth; ++k) out[k] = static_cast<uint8_t>(quantize(row[k], inverse) + 128);
  const int64_t padded = (depth + 3) / 4 * 4;
  for (int64_t k = depth; k < padded; ++k) out[k] = 128;
  return absmax / 127.0f;
}

PackedInt8Weights::PackedInt8Weights(const float* b, int64_t depth, int64_t columns, const float* bias,
                                     Activation activation)
    : shape_{depth, columns}, activation_(activation) {
  if (depth <= 0 || columns <= 0) throw std::invalid_argument("MatMulInt8Token: B must have at least one row and column");
  const int64_t quads = shape_.quads(), padded_columns = shape_.panels() * 16;
  panels_.assign(static_cast<size_t>(shape_.panels() * quads * 64), 0);
  scales_.assign(static_cast<size_t>(padded_columns), 0.0f);
  offsets_.assign(static_cast<size_t>(padded_columns), 0);
  bias_.assign(static_cast<size_t>(padded_columns), 0.0f);
  for (int64_t n = 0; n < columns; ++n) {
    float absmax = 0.0f;
    for (int64_t k = 0; k < depth; ++k) absmax = std::max(absmax, std::fabs(b[k * columns + n]));
    const float inverse = absmax > 0.0f ? 127.0f / absmax : 0.0f;
    int32_t sum = 0;
    for (int64_t k = 0; k < depth; ++k) {
      const int32_t q = quantize(b[k * columns + n], inverse);
      sum += q;
      panels_[static_cast<size_t>((((n / 16) * quads + k / 4) * 16 + n % 16) * 4 + k % 4)] = static_cast<int8_t>(q);
    }
    scales_[static_cast<size_t>(n)] = absmax / 127.0f;
    offsets_[static_cast<size_t>(n)] = 128 * sum;
  }
  if (bias != nullptr) std::copy(bias, bias + columns, bias_.begin());
}

size_t matmul_int8_scratch_bytes(const MatMulShape& shape) {
  // The chunk's rows as uint8 quads, then its row scales (kept 64-byte aligned after the rows).
  return static_cast<size_t>(kInt8RowChunk * shape.quads() * 4 + kInt8RowChunk * sizeof(float) + 64);
}

void matmul_int8_rows_portable(const PackedInt8Weights& weights, const float* a, int64_t first, int64_t last,
                               float* c, uint8_t* scratch) {
  const MatMulShape& shape = weights.shape();
  const int64_t quads = shape.quads();
  for (int64_t row = first; row < last; ++row) {
    const float row_scale = quantize_row_int8(a + row * shape.depth, shape.depth, scratch);
    for (int64_t n = 0; n < shape.columns; ++n) {
      const int8_t* panel = weights.panels() + (n / 16) * quads * 64 + (n % 16) * 4;
      int32_t sum = 0;
      for (int64_t q = 0; q < quads; ++q) {
        for (int i = 0; i < 4; ++i) sum += static_cast<int32_t>(scratch[q * 4 + i]) * panel[q * 64 + i];
      }
      const float scale = row_scale * weights.scales()[n];
      c[row * shape.columns + n] = std::fma(static_cast<float>(sum - weights.offsets()[n]), scale, weights.bias()[n]);
    }
    float* out = c + row * shape.columns;
    if (weights.activation() == Activation::kGelu) gelu_portable(out, out, shape.columns);
  }
}

void matmul_int8_rows(const PackedInt8Weights& weights, const float* a, int64_t first, int64_t last, float* c,
                      uint8_t* scratch) {
  if (!avx512_vnni_available()) {
    matmul_int8_rows_portable(weights, a, first, last, c, scratch);
    return;
  }
  const MatMulShape& shape = weights.shape();
  for (int64_t chunk = first; chunk < last; chunk += kInt8RowChunk) {
    const int64_t rows = std::min(last - chunk, kInt8RowChunk);
    avx512::matmul_int8(shape, weights.panels(), weights.scales(), weights.offsets(), weights.bias(),
                        weights.activation(), a + chunk * shape.depth, rows, c + chunk * shape.columns, scratch);
  }
}

}  // namespace crossrank
