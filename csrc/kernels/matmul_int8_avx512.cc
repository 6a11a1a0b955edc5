#include "kernels/matmul_int8_avx512.h"

#include "kernels/register_tiles.h"

// Compiled with AVX512-VNNI enabled: no standard-library templates here (self_attention_avx512.cc).
#if defined(CROSSRANK_AVX512_VNNI)
#include <immintrin.h>

#include "kernels/gelu16_avx512.h"
#endif

namespace crossrank::avx512 {

#if defined(CROSSRANK_AVX512_VNNI)
namespace {

inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n > 0 ? n : 0)) - 1);
}

// acc + the products of a's uint8 and b's int8 quads (vpdpbusd). Written as inline assembly: with the
// intrinsic, GCC 12 copied the 16 accumulators of a tile between registers (and the stack) on every
// depth step, which halved the kernel's rate.
inline __m512i dot_accumulate(__m512i acc, __m512i a, __m512i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

// One row quantized as matmul_int8.cc's quantize_row_int8 does it (same arithmetic, 16 lanes at a
// time): q + 128 into OUT (padded to whole quads with 128); returns the row's scale.
float quantize_row(const float* x, int64_t depth, uint8_t* out) {
  __m512 peak = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= depth; k += 16) peak = _mm512_max_ps(peak, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
  if (k < depth) peak = _mm512_max_ps(peak, _mm512_abs_ps(_mm512_maskz_loadu_ps(first_lanes(depth - k), x + k)));
  const float absmax = _mm512_reduce_max_ps(peak);
  const __m512 inverse = _mm512_set1_ps(absmax > 0.0f ? 127.0f / absmax : 0.0f);
  const __m512i low = _mm512_set1_epi32(-127), high = _mm512_set1_epi32(127), offset = _mm512_set1_epi32(128);
  const int64_t padded = (depth + 3) / 4 * 4;
  for (k = 0; k < padded; k += 16) {
    const __mmask16 valid = first_lanes(depth - k), stored = first_lanes(padded - k);
    __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(valid, x + k), inverse));
    q = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q, low), high), offset);
    _mm_mask_storeu_epi8(out + k, stored, _mm512_cvtepi32_epi8(q));
  }
  return absmax / 127.0f;
}

struct Tile {
  const uint8_t* a;          // the tile's first row of uint8 quads
  int64_t quads;             // quads per row of a, packed 64-byte groups per panel
  const int8_t* panel;       // the tile's first packed panel
  const float* row_scales;   // the tile's first row's scale
  const float* scales;       // the tile's first column's scale (padded to whole panels)
  const int32_t* offsets;    // ... its 128 · column sum
  const float* bias;         // ... its bias
  float* c;                  // the tile's first element of C
  int64_t columns;           // C's row stride
  int64_t columns_left;      // valid columns from the tile's first (masked store past them)
  bool gelu;                 // GELU on each element as it is stored
};

// R rows x P panels of C: per depth quad, P panel loads, R broadcasts of an A quad, R x P vpdpbusd;
// then (sum - offset) · (row scale · column scale) + bias, and GELU where the tile asks for it.
template <int R, int P>
struct TileKernel {
  static void run(const Tile& t);
};

template <int R, int P>
void TileKernel<R, P>::run(const Tile& t) {
  __m512i acc[R][P];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_si512();
  }
  const int64_t panel_bytes = t.quads * 64;
  const int32_t* a = reinterpret_cast<const int32_t*>(t.a);
  for (int64_t k = 0; k < t.quads; ++k) {
    __m512i b[P];
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) b[p] = _mm512_loadu_si512(t.panel + p * panel_bytes + k * 64);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512i x = _mm512_set1_epi32(a[r * t.quads + k]);
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) acc[r][p] = dot_accumulate(acc[r][p], x, b[p]);
    }
  }
#pragma GCC unroll 2
  for (int p = 0; p < P; ++p) {
    const __mmask16 mask = first_lanes(t.columns_left - 16 * p);
    const __m512 scales = _mm512_loadu_ps(t.scales + 16 * p);  // padded to whole panels
    const __m512i offsets = _mm512_loadu_si512(t.offsets + 16 * p);
    const __m512 bias = _mm512_loadu_ps(t.bias + 16 * p);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(t.row_scales[r]), scales);
      const __m512 sum = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][p], offsets));
      const __m512 y = _mm512_fmadd_ps(sum, scale, bias);
      _mm512_mask_storeu_ps(t.c + r * t.columns + 16 * p, mask, t.gelu ? gelu16(y) : y);
    }
  }
}

}  // namespace

void matmul_int8(const MatMulShape& shape, const int8_t* panels, const float* scales, const int32_t* offsets,
                 const float* bias, Activation activation, const float* a, int64_t rows, float* c,
                 uint8_t* scratch) {
  const int64_t quads = shape.quads(), panel_count = shape.panels();
  float* row_scales = reinterpret_cast<float*>(scratch + (rows * quads * 4 + 63) / 64 * 64);
  for (int64_t r = 0; r < rows; ++r) row_scales[r] = quantize_row(a + r * shape.depth, shape.depth, scratch + r * quads * 4);
  for_each_tile<TileKernel>(rows, panel_count, [&](int64_t row, int64_t panel) {
    return Tile{scratch + row * quads * 4, quads, panels + panel * quads * 64, row_scales + row, scales + panel * 16,
                offsets + panel * 16, bias + panel * 16, c + row * shape.columns + panel * 16, shape.columns,
                shape.columns - panel * 16, activation == Activation::kGelu};
  });
}

#else

void matmul_int8(const MatMulShape&, const int8_t*, const float*, const int32_t*, const float*, Activation,
                 const float*, int64_t, float*, uint8_t*) {}

#endif

}  // namespace crossrank::avx512
