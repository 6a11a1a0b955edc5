#include "kernels/self_attention_avx512.h"

// This file is compiled with AVX-512 enabled. It instantiates no standard-library templates:
// their copies are shared across the program, and the linker could keep this file's AVX-512 one
// for callers on CPUs without it.
#if defined(CROSSRANK_AVX512)
#include <immintrin.h>
#endif

namespace crossrank::avx512 {

#if defined(CROSSRANK_AVX512)
namespace {

constexpr int64_t kLanes = 16;
constexpr int64_t kKeyBlock = 32;  // score columns per register block; keys are padded to it
constexpr int64_t kScoreRows = 8;  // query rows scored together: 8 x 2 accumulators

int64_t padded_keys(int64_t n) { return (n + kKeyBlock - 1) / kKeyBlock * kKeyBlock; }
int64_t smaller(int64_t a, int64_t b) { return a < b ? a : b; }
void fill(float* begin, float* end, float value) {
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

// Kᵀ [head_size][width], padding columns zero: a row of scores is then a sum of rows of Kᵀ.
void transpose_keys(const float* key_rows, int64_t stride, int64_t keys, int64_t width, int64_t head_size,
                    float* keys_t) {
  for (int64_t j = 0; j < keys; ++j) {
    for (int64_t d = 0; d < head_size; ++d) keys_t[d * width + j] = key_rows[j * stride + d];
  }
  for (int64_t d = 0; d < head_size; ++d) fill(keys_t + d * width + keys, keys_t + (d + 1) * width, 0.0f);
}

// scores[r][j] = scale · q_r · k_j for kScoreRows query rows and every (padded) key.
void score_rows(const float* const* q, const float* keys_t, int64_t width, int64_t head_size, float scale,
                float* scores) {
  const __m512 s = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < width; j0 += kKeyBlock) {
    __m512 acc[kScoreRows][2];
    for (auto& row : acc) row[0] = row[1] = _mm512_setzero_ps();
    for (int64_t d = 0; d < head_size; ++d) {
      const __m512 k0 = _mm512_loadu_ps(keys_t + d * width + j0);
      const __m512 k1 = _mm512_loadu_ps(keys_t + d * width + j0 + kLanes);
#pragma GCC unroll 8
      for (int64_t r = 0; r < kScoreRows; ++r) {
        const __m512 qd = _mm512_set1_ps(q[r][d]);
        acc[r][0] = _mm512_fmadd_ps(qd, k0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(qd, k1, acc[r][1]);
      }
    }
    for (int64_t r = 0; r < kScoreRows; ++r) {
      _mm512_storeu_ps(scores + r * width + j0, _mm512_mul_ps(acc[r][0], s));
      _mm512_storeu_ps(scores + r * width + j0 + kLanes, _mm512_mul_ps(acc[r][1], s));
    }
  }
}

// Replaces rows of scores with e^(s - row max) over the real keys (0 on padding) and sets
// inverse_sum[r] = 1 / the row's sum. All rows advance together: one row alone is a chain of
// dependent reductions, kScoreRows side by side keep both FMA units busy.
void softmax_rows(float* scores, int64_t rows, int64_t keys, int64_t width, float* inverse_sum) {
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

// out[r] = inverse_sum[r] · Σ_j weights[r][j] · v_j for up to kRows query rows.
template <int64_t kHeadSize>
void weigh_values(const float* weights, int64_t width, const float* value_rows, int64_t stride, int64_t keys,
                  int64_t rows, const float* inverse_sum, float* out, int64_t out_stride) {
  constexpr int64_t kVecs = kHeadSize / kLanes;
  constexpr int64_t kRows = 16 / kVecs;  // 16 accumulators
  for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
    __m512 acc[kRows][kVecs];
    for (auto& row : acc) for (auto& a : row) a = _mm512_setzero_ps();
    const int64_t n = smaller(kRows, rows - r0);
    for (int64_t j = 0; j < keys; ++j) {
      __m512 v[kVecs];
      for (int64_t k = 0; k < kVecs; ++k) v[k] = _mm512_loadu_ps(value_rows + j * stride + k * kLanes);
#pragma GCC unroll 8
      for (int64_t r = 0; r < kRows; ++r) {
        // Rows past `rows` read stale weights of this block: computed, never stored.
        const __m512 w = _mm512_set1_ps(weights[(r0 + r) * width + j]);
        for (int64_t k = 0; k < kVecs; ++k) acc[r][k] = _mm512_fmadd_ps(w, v[k], acc[r][k]);
      }
    }
    for (int64_t r = 0; r < n; ++r) {
      const __m512 inv = _mm512_set1_ps(inverse_sum[r0 + r]);
      for (int64_t k = 0; k < kVecs; ++k) {
        _mm512_storeu_ps(out + (r0 + r) * out_stride + k * kLanes, _mm512_mul_ps(acc[r][k], inv));
      }
    }
  }
}

template <int64_t kHeadSize>
void attend_heads(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths, int64_t unit,
                  float* out, float* scratch) {
  const int64_t hidden = shape.hidden(), stride = 3 * hidden;
  const int64_t batch = unit / shape.heads, head = unit % shape.heads;
  const int64_t length = key_lengths[batch];
  const int64_t keys = length < 1 ? 1 : smaller(length, shape.sequence);
  const int64_t width = padded_keys(keys);
  const float* queries = qkv + batch * shape.sequence * stride + head * kHeadSize;
  float* out_rows = out + batch * shape.sequence * hidden + head * kHeadSize;
  const float scale = 1.0f / __builtin_sqrtf(static_cast<float>(kHeadSize));

  float* keys_t = scratch;
  float* values = keys_t + kHeadSize * width;  // this head's V rows, contiguous: [keys][kHeadSize]
  float* scores = values + kHeadSize * width;  // [kScoreRows][width]
  transpose_keys(queries + hidden, stride, keys, width, kHeadSize, keys_t);
  // Rows of V lie 3 x hidden floats apart, a page or more on large models: gathered once here,
  // the weighted sums below read them from consecutive lines instead of one TLB entry each.
  for (int64_t j = 0; j < keys; ++j) {
    for (int64_t d = 0; d < kHeadSize; d += kLanes) {
      _mm512_storeu_ps(values + j * kHeadSize + d, _mm512_loadu_ps(queries + 2 * hidden + j * stride + d));
    }
  }
  for (int64_t first = 0; first < keys; first += kScoreRows) {
    const int64_t rows = smaller(kScoreRows, keys - first);
    const float* q[kScoreRows];  // the last query repeated to fill the block; extra rows unused
    for (int64_t r = 0; r < kScoreRows; ++r) q[r] = queries + (first + smaller(r, rows - 1)) * stride;
    score_rows(q, keys_t, width, kHeadSize, scale, scores);
    float inverse_sum[kScoreRows];
    softmax_rows(scores, rows, keys, width, inverse_sum);
    weigh_values<kHeadSize>(scores, width, values, kHeadSize, keys, rows, inverse_sum,
                            out_rows + first * hidden, hidden);
  }
  // Padding positions: nothing downstream reads them, but leave no uninitialized memory behind.
  for (int64_t i = keys; i < shape.sequence; ++i) {
    fill(out_rows + i * hidden, out_rows + i * hidden + kHeadSize, 0.0f);
  }
}

}  // namespace

bool handles(const AttentionShape& shape) { return shape.head_size == 32 || shape.head_size == 64; }

size_t scratch_floats(const AttentionShape& shape) {
  return static_cast<size_t>((2 * shape.head_size + kScoreRows) * padded_keys(shape.sequence < 1 ? 1 : shape.sequence));
}

void attend(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths, int64_t unit, float* out,
            float* scratch) {
  if (shape.head_size == 32) {
    attend_heads<32>(shape, qkv, key_lengths, unit, out, scratch);
  } else {
    attend_heads<64>(shape, qkv, key_lengths, unit, out, scratch);
  }
}

#else  // built without the kernel (not x86-64, or a compiler without AVX-512 support)

bool handles(const AttentionShape&) { return false; }
size_t scratch_floats(const AttentionShape&) { return 0; }
void attend(const AttentionShape&, const float*, const int32_t*, int64_t, float*, float*) {}

#endif

}  // namespace crossrank::avx512
