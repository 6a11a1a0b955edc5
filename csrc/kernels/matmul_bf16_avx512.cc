#include "kernels/matmul_bf16_avx512.h"

#include "kernels/register_tiles.h"

// Compiled with AVX512-BF16 enabled: no standard-library templates here (self_attention_avx512.cc).
#if defined(CROSSRANK_AVX512_BF16)
#include <immintrin.h>

#include "kernels/gelu16_avx512.h"
#endif

namespace crossrank::avx512 {

#if defined(CROSSRANK_AVX512_BF16)
namespace {

inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n > 0 ? n : 0)) - 1);
}

// ROWS rows of A as bf16 pairs (low half the even column), PAIRS words a row, zero past depth.
void round_rows(const float* a, int64_t depth, int64_t rows, int64_t pairs, uint32_t* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = a + r * depth;
    uint32_t* y = out + r * pairs;
    int64_t k = 0;
    for (; k + 32 <= depth; k += 32) {
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k));
      _mm512_storeu_si512(y + k / 2, (__m512i)v);
    }
    if (k < depth) {
      const int64_t left = depth - k;
      const __m512 low = _mm512_maskz_loadu_ps(first_lanes(left), x + k);
      const __m512 high = left > 16 ? _mm512_maskz_loadu_ps(first_lanes(left - 16), x + k + 16) : _mm512_setzero_ps();
      _mm512_mask_storeu_epi32(y + k / 2, first_lanes((left + 1) / 2), (__m512i)_mm512_cvtne2ps_pbh(high, low));
    }
  }
}

// acc + the products of a's and b's bf16 pairs (vdpbf16ps). Written as inline assembly: with the
// intrinsic, GCC 12 copied accumulators between registers on every depth step (as in
// matmul_int8_avx512.cc, where that halved the rate).
inline __m512 dot_accumulate(__m512 acc, __m512bh a, __m512bh b) {
  asm("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

struct Tile {
  const uint32_t* a;       // the tile's first row of bf16 pairs
  int64_t pairs;           // words per row of a, packed words per panel / 32
  const uint16_t* panel;   // the tile's first packed panel
  const float* bias;       // the tile's first column
  float* c;                // the tile's first element of C
  int64_t columns;         // C's row stride
  int64_t columns_left;    // valid columns from the tile's first (masked store past them)
  bool gelu;               // GELU on each element as it is stored
};

// R rows x P panels of C: per depth pair, P panel loads, R broadcasts of an A pair, R x P vdpbf16ps.
template <int R, int P>
struct TileKernel {
  static void run(const Tile& t);
};

template <int R, int P>
void TileKernel<R, P>::run(const Tile& t) {
  __m512 acc[R][P];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_ps();
  }
  const int64_t panel_words = t.pairs * 32;
  for (int64_t k = 0; k < t.pairs; ++k) {
    __m512bh b[P];
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) b[p] = (__m512bh)_mm512_loadu_si512(t.panel + p * panel_words + k * 32);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(t.a[r * t.pairs + k]));
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) acc[r][p] = dot_accumulate(acc[r][p], x, b[p]);
    }
  }
#pragma GCC unroll 2
  for (int p = 0; p < P; ++p) {
    const __mmask16 mask = first_lanes(t.columns_left - 16 * p);
    const __m512 bias = _mm512_loadu_ps(t.bias + 16 * p);  // bias is padded to whole panels
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 y = _mm512_add_ps(acc[r][p], bias);
      _mm512_mask_storeu_ps(t.c + r * t.columns + 16 * p, mask, t.gelu ? gelu16(y) : y);
    }
  }
}

}  // namespace

void matmul_bf16(const MatMulShape& shape, const uint16_t* panels, const float* bias, Activation activation,
                 const float* a, int64_t rows, float* c, uint32_t* a_pairs) {
  const int64_t pairs = shape.pairs(), panel_count = shape.panels();
  round_rows(a, shape.depth, rows, pairs, a_pairs);
  for_each_tile<TileKernel>(rows, panel_count, [&](int64_t row, int64_t panel) {
    return Tile{a_pairs + row * pairs, pairs, panels + panel * pairs * 32, bias + panel * 16,
                c + row * shape.columns + panel * 16, shape.columns, shape.columns - panel * 16,
                activation == Activation::kGelu};
  });
}

#else

void matmul_bf16(const MatMulShape&, const uint16_t*, const float*, Activation, const float*, int64_t, float*,
                 uint32_t*) {}

#endif

}  // namespace crossrank::avx512
