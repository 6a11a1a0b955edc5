#include "kernels/self_attention_avx512.h"

// This file is compiled with AVX-512 enabled. It instantiates no standard-library templates:
// their copies are shared across the program, and the linker could keep this file's AVX-512 one
// for callers on CPUs without it.
#if defined(CROSSRANK_AVX512)
#include <immintrin.h>

#include "kernels/softmax16_avx512.h"
#endif

namespace crossrank::avx512 {

#if defined(CROSSRANK_AVX512)
namespace {

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
    store_rows(acc, n, inverse_sum + r0, out + r0 * out_stride, out_stride);
  }
}

template <int64_t kHeadSize>
void attend_heads(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths, int64_t unit,
                  float* out, float* scratch) {
  const HeadRows h = head_rows(shape, qkv, key_lengths, unit, out);
  const int64_t hidden = h.hidden, stride = h.stride, keys = h.keys, width = h.width;
  const float* queries = h.queries;
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
  for (int64_t first = 0; first < h.real_rows; first += kScoreRows) {
    const int64_t block = smaller(kScoreRows, h.real_rows - first);
    const float* q[kScoreRows];  // the last query repeated to fill the block; extra rows unused
    for (int64_t r = 0; r < kScoreRows; ++r) q[r] = queries + (first + smaller(r, block - 1)) * stride;
    score_rows(q, keys_t, width, kHeadSize, scale, scores);
    float inverse_sum[kScoreRows];
    softmax_rows(scores, block, keys, width, inverse_sum);
    weigh_values<kHeadSize>(scores, width, values, kHeadSize, keys, block, inverse_sum,
                            h.out_rows + first * hidden, hidden);
  }
  zero_padding_rows(h, kHeadSize);
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
