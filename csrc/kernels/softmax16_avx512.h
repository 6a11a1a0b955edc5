// What both AVX-512 attention kernels share (self_attention_avx512.cc in fp32,
// self_attention_bf16_avx512.cc with bf16 products): the score tiling and the masked softmax over
// rows of scores. One definition, so the two kernels' weights differ only by their products.
// Intrinsics only, no standard library (self_attention_avx512.cc says why).
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>

#include <cstdint>

#include "kernels/shapes.h"

namespace crossrank::avx512 {

constexpr int64_t kLanes = 16;
constexpr int64_t kKeyBlock = 32;  // score columns per register block; keys are padded to it
constexpr int64_t kScoreRows = 8;  // query rows scored together: 8 x 2 accumulators

inline int64_t padded_keys(int64_t n) { return (n + kKeyBlock - 1) / kKeyBlock * kKeyBlock; }
inline int64_t smaller(int64_t a, int64_t b) { return a < b ? a : b; }
inline void fill(float* begin, float* end, float value) {
  for (; begin < end; ++begin) *begin = value;
}

// e^x for x <= 0 (a max-subtracted softmax): Cephes' single-precision range reduction and
// polynomial, within a few ulp of std::exp; scalef applies the 2^n.
inline __m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// Replaces rows of scores with e^(s - row max) over the real keys (0 on padding) and sets
// inverse_sum[r] = 1 / the row's sum. All rows advance together: one row alone is a chain of
// dependent reductions, kScoreRows side by side keep both FMA units busy.
inline void softmax_rows(float* scores, int64_t rows, int64_t keys, int64_t width, float* inverse_sum) {
  const int64_t tail = (keys - 1) / kLanes * kLanes;  // the last block holding a real key
  const __mmask16 real = static_cast<__mmask16>((1u << (keys - tail)) - 1);
  const __m512 minus_inf = _mm512_set1_ps(-__builtin_inff());
  __m512 top[kScoreRows], sum[kScoreRows];
  for (int64_t r = 0; r < kScoreRows; ++r) {
    top[r] = minus_inf;
    sum[r] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < tail; j += kLanes) {
    for (int64_t r = 0; r < rows; ++r) top[r] = _mm512_max_ps(top[r], _mm512_loadu_ps(scores + r * width + j));
  }
  for (int64_t r = 0; r < rows; ++r) {
    top[r] = _mm512_max_ps(top[r], _mm512_mask_loadu_ps(minus_inf, real, scores + r * width + tail));
    top[r] = _mm512_set1_ps(_mm512_reduce_max_ps(top[r]));
  }
  for (int64_t j = 0; j <= tail; j += kLanes) {
    for (int64_t r = 0; r < rows; ++r) {
      float* p = scores + r * width + j;
      __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(p), top[r]));
      if (j == tail) e = _mm512_maskz_mov_ps(real, e);
      _mm512_storeu_ps(p, e);
      sum[r] = _mm512_add_ps(sum[r], e);
    }
  }
  for (int64_t r = 0; r < rows; ++r) inverse_sum[r] = 1.0f / _mm512_reduce_add_ps(sum[r]);
}

// Where one unit's (sequence, head) rows lie.
struct HeadRows {
  int64_t hidden, stride;  // floats between rows of the output and of qkv
  int64_t keys, width;     // real keys (at least 1), and keys padded to kKeyBlock
  int64_t rows, real_rows; // output rows per sequence, and those of real query positions
  const float* queries;    // this head's Q columns, first row (K: + hidden, V: + 2 x hidden)
  float* out_rows;         // this head's output columns, first row
};

inline HeadRows head_rows(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths, int64_t unit,
                          float* out) {
  HeadRows h;
  h.hidden = shape.hidden();
  h.stride = 3 * h.hidden;
  const int64_t batch = unit / shape.heads, head = unit % shape.heads;
  h.keys = key_lengths[batch] < 1 ? 1 : smaller(key_lengths[batch], shape.sequence);
  h.width = padded_keys(h.keys);
  h.rows = shape.output_rows();
  h.real_rows = smaller(h.keys, h.rows);
  h.queries = qkv + batch * shape.sequence * h.stride + head * shape.head_size;
  h.out_rows = out + batch * h.rows * h.hidden + head * shape.head_size;
  return h;
}

// Stores N rows of accumulators times each row's inverse_sum, kVecs vectors per row.
template <int64_t kRows, int64_t kVecs>
inline void store_rows(const __m512 (&acc)[kRows][kVecs], int64_t n, const float* inverse_sum, float* out,
                       int64_t out_stride) {
  for (int64_t r = 0; r < n; ++r) {
    const __m512 inv = _mm512_set1_ps(inverse_sum[r]);
    for (int64_t k = 0; k < kVecs; ++k) {
      _mm512_storeu_ps(out + r * out_stride + k * kLanes, _mm512_mul_ps(acc[r][k], inv));
    }
  }
}

// Padding positions' output rows: nothing downstream reads them, but leave no uninitialized memory.
inline void zero_padding_rows(const HeadRows& h, int64_t head_size) {
  for (int64_t i = h.real_rows; i < h.rows; ++i) {
    fill(h.out_rows + i * h.hidden, h.out_rows + i * h.hidden + head_size, 0.0f);
  }
}

}  // namespace crossrank::avx512

#endif  // __AVX512F__
