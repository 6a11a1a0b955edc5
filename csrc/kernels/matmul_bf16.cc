#include "kernels/matmul_bf16.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu_features.h"
#include "kernels/gelu.h"
#include "kernels/matmul_bf16_avx512.h"

namespace crossrank {
namespace {

float bf16_to_float(uint16_t value) {
  const uint32_t bits = static_cast<uint32_t>(value) << 16;
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

// Rows [first, last) of A as bf16 pairs, `pairs` words a row: low half the even column, high half
// the odd one (zero past depth), as vcvtne2ps2bf16 leaves them.
void round_rows(const float* a, int64_t depth, int64_t first, int64_t last, uint32_t* out) {
  const int64_t pairs = (depth + 1) / 2;
  for (int64_t row = first; row < last; ++row) {
    const float* x = a + row * depth;
    uint32_t* y = out + (row - first) * pairs;
    for (int64_t p = 0; p < pairs; ++p) {
      const uint32_t high = 2 * p + 1 < depth ? round_to_bf16(x[2 * p + 1]) : 0u;
      y[p] = (high << 16) | round_to_bf16(x[2 * p]);
    }
  }
}

}  // namespace

uint16_t round_to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
  if ((bits & 0x7f800000u) == 0) return static_cast<uint16_t>((bits >> 16) & 0x8000u);         // zero, denormal
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

PackedBf16Weights::PackedBf16Weights(const float* b, int64_t depth, int64_t columns, const float* bias,
                                     Activation activation)
    : shape_{depth, columns}, activation_(activation) {
  if (depth <= 0 || columns <= 0) throw std::invalid_argument("MatMulBf16: B must have at least one row and column");
  const int64_t pairs = shape_.pairs();
  panels_.assign(static_cast<size_t>(shape_.panels() * pairs * 32), 0);
  for (int64_t k = 0; k < depth; ++k) {
    for (int64_t n = 0; n < columns; ++n) {
      const int64_t panel = n / 16, lane = n % 16;
      panels_[static_cast<size_t>(((panel * pairs + k / 2) * 16 + lane) * 2 + k % 2)] = round_to_bf16(b[k * columns + n]);
    }
  }
  bias_.assign(static_cast<size_t>(shape_.panels() * 16), 0.0f);
  if (bias != nullptr) std::copy(bias, bias + columns, bias_.begin());
}

size_t matmul_bf16_scratch_words(const MatMulShape& shape) {
  return static_cast<size_t>(kBf16RowChunk * shape.pairs());
}

void matmul_bf16_rows_portable(const PackedBf16Weights& weights, const float* a, int64_t first, int64_t last,
                               float* c, uint32_t* scratch) {
  const MatMulShape& shape = weights.shape();
  const int64_t pairs = shape.pairs();
  for (int64_t chunk = first; chunk < last; chunk += kBf16RowChunk) {
    const int64_t end = std::min(last, chunk + kBf16RowChunk);
    round_rows(a, shape.depth, chunk, end, scratch);
    for (int64_t row = chunk; row < end; ++row) {
      const uint32_t* x = scratch + (row - chunk) * pairs;
      for (int64_t n = 0; n < shape.columns; ++n) {
        const uint16_t* panel = weights.panels() + (n / 16) * pairs * 32 + (n % 16) * 2;
        float sum = 0.0f;
        for (int64_t p = 0; p < pairs; ++p) {
          // vdpbf16ps adds the odd product first, then the even one; each product is exact in fp32.
          sum += bf16_to_float(static_cast<uint16_t>(x[p] >> 16)) * bf16_to_float(panel[p * 32 + 1]);
          sum += bf16_to_float(static_cast<uint16_t>(x[p] & 0xffffu)) * bf16_to_float(panel[p * 32]);
        }
        c[row * shape.columns + n] = sum + weights.bias()[n];
      }
      float* out = c + row * shape.columns;
      if (weights.activation() == Activation::kGelu) gelu_portable(out, out, shape.columns);
    }
  }
}

void matmul_bf16_rows(const PackedBf16Weights& weights, const float* a, int64_t first, int64_t last, float* c,
                      uint32_t* scratch) {
  if (!avx512_bf16_available()) {
    matmul_bf16_rows_portable(weights, a, first, last, c, scratch);
    return;
  }
  const MatMulShape& shape = weights.shape();
  for (int64_t chunk = first; chunk < last; chunk += kBf16RowChunk) {
    const int64_t rows = std::min(last - chunk, kBf16RowChunk);
    avx512::matmul_bf16(shape, weights.panels(), weights.bias(), weights.activation(), a + chunk * shape.depth, rows,
                        c + chunk * shape.columns, scratch);
  }
}

}  // namespace crossrank
