#include "kernels/self_attention_bf16_avx512.h"

// Built with AVX512-BF16 enabled; no standard-library templates (self_attention_avx512.cc says why).
#if defined(CROSSRANK_AVX512_BF16)
#include <immintrin.h>

#include "kernels/softmax16_avx512.h"
#endif

namespace crossrank::avx512_bf16 {

#if defined(CROSSRANK_AVX512_BF16)
namespace {

using avx512::kKeyBlock;
using avx512::kLanes;
using avx512::kScoreRows;
using avx512::padded_keys;
using avx512::smaller;

// 16 bf16 pairs from two 16-float rows: word d holds low[d] (low half) and high[d] (high half).
inline __m512i interleave(__m512 low, __m512 high) {
  const __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(low));
  const __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(high));
  return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

// 32 floats -> 16 bf16 pairs of neighbours: word p holds x[2p], x[2p + 1].
inline __m512i neighbours(const float* x) {
  return (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + kLanes), _mm512_loadu_ps(x));
}

// Kᵀ in pairs along depth: keys_t[p * width + j] holds k_j[2p], k_j[2p + 1]; padding keys zero.
// Each key's row is converted in vector form into ROWS ([width][head_size / 2] words), then transposed.
void pack_keys(const float* key_rows, int64_t stride, int64_t keys, int64_t width, int64_t head_size,
               uint32_t* rows, uint32_t* keys_t) {
  const int64_t pairs = head_size / 2;
  for (int64_t j = 0; j < keys; ++j) {
    for (int64_t d = 0; d < head_size; d += 2 * kLanes) {
      _mm512_storeu_si512(rows + j * pairs + d / 2, neighbours(key_rows + j * stride + d));
    }
  }
  for (int64_t p = 0; p < pairs; ++p) {
    uint32_t* row = keys_t + p * width;
    for (int64_t j = 0; j < keys; ++j) row[j] = rows[j * pairs + p];
    for (int64_t j = keys; j < width; ++j) row[j] = 0;
  }
}

// V in pairs along keys: values[p * head_size + d] holds v_2p[d], v_2p+1[d]; a padding key is zero.
void pack_values(const float* value_rows, int64_t stride, int64_t keys, int64_t head_size, uint32_t* values) {
  for (int64_t p = 0; p < (keys + 1) / 2; ++p) {
    const float* first = value_rows + 2 * p * stride;
    const bool second = 2 * p + 1 < keys;
    for (int64_t d = 0; d < head_size; d += kLanes) {
      const __m512 high = second ? _mm512_loadu_ps(first + stride + d) : _mm512_setzero_ps();
      _mm512_storeu_si512(values + p * head_size + d, interleave(_mm512_loadu_ps(first + d), high));
    }
  }
}

// scores[r][j] = scale · q_r · k_j for kScoreRows query rows (given in bf16 pairs) and every key.
void score_rows(const uint32_t* q, int64_t pairs, const uint32_t* keys_t, int64_t width, float scale,
                float* scores) {
  const __m512 s = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < width; j0 += kKeyBlock) {
    __m512 acc[kScoreRows][2];
    for (auto& row : acc) row[0] = row[1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < pairs; ++p) {
      const __m512bh k0 = (__m512bh)_mm512_loadu_si512(keys_t + p * width + j0);
      const __m512bh k1 = (__m512bh)_mm512_loadu_si512(keys_t + p * width + j0 + kLanes);
#pragma GCC unroll 8
      for (int64_t r = 0; r < kScoreRows; ++r) {
        const __m512bh qp = (__m512bh)_mm512_set1_epi32(static_cast<int>(q[r * pairs + p]));
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], qp, k0);
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], qp, k1);
      }
    }
    for (int64_t r = 0; r < kScoreRows; ++r) {
      _mm512_storeu_ps(scores + r * width + j0, _mm512_mul_ps(acc[r][0], s));
      _mm512_storeu_ps(scores + r * width + j0 + kLanes, _mm512_mul_ps(acc[r][1], s));
    }
  }
}

// out[r] = inverse_sum[r] · Σ_j weights[r][j] · v_j, the weights rounded to bf16 pairs first.
template <int64_t kHeadSize>
void weigh_values(const float* scores, int64_t width, const uint32_t* values, int64_t keys, int64_t rows,
                  const float* inverse_sum, uint32_t* weights, float* out, int64_t out_stride) {
  constexpr int64_t kVecs = kHeadSize / kLanes;
  constexpr int64_t kRows = 16 / kVecs;  // 16 accumulators
  const int64_t pairs = (keys + 1) / 2;
  for (int64_t r = 0; r < rows; ++r) {  // 32 weights -> 16 pairs; a padding key's weight is 0
    for (int64_t j = 0; j < 2 * pairs; j += 2 * kLanes) {
      const __m512bh w = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(scores + r * width + j + kLanes),
                                             _mm512_loadu_ps(scores + r * width + j));
      _mm512_storeu_si512(weights + r * (width / 2) + j / 2, (__m512i)w);
    }
  }
  for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
    __m512 acc[kRows][kVecs];
    for (auto& row : acc) for (auto& a : row) a = _mm512_setzero_ps();
    const int64_t n = smaller(kRows, rows - r0);
    for (int64_t p = 0; p < pairs; ++p) {
      __m512bh v[kVecs];
      for (int64_t k = 0; k < kVecs; ++k) v[k] = (__m512bh)_mm512_loadu_si512(values + p * kHeadSize + k * kLanes);
#pragma GCC unroll 8
      for (int64_t r = 0; r < kRows; ++r) {
        // Rows past `rows` read stale weights of this block: computed, never stored.
        const __m512bh w = (__m512bh)_mm512_set1_epi32(static_cast<int>(weights[(r0 + r) * (width / 2) + p]));
        for (int64_t k = 0; k < kVecs; ++k) acc[r][k] = _mm512_dpbf16_ps(acc[r][k], w, v[k]);
      }
    }
    avx512::store_rows(acc, n, inverse_sum + r0, out + r0 * out_stride, out_stride);
  }
}

template <int64_t kHeadSize>
void attend_heads(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths, int64_t unit,
                  float* out, float* scratch) {
  constexpr int64_t kPairs = kHeadSize / 2;
  const avx512::HeadRows h = avx512::head_rows(shape, qkv, key_lengths, unit, out);
  const int64_t keys = h.keys, width = h.width;
  const float scale = 1.0f / __builtin_sqrtf(static_cast<float>(kHeadSize));

  float* scores = scratch;                                              // [kScoreRows][width]
  uint32_t* keys_t = reinterpret_cast<uint32_t*>(scores + kScoreRows * width);  // [kPairs][width]
  uint32_t* values = keys_t + kPairs * width;                           // [width / 2][kHeadSize]
  uint32_t* weights = values + width / 2 * kHeadSize;                   // [kScoreRows][width / 2]
  uint32_t* q = weights + kScoreRows * width / 2;                       // [kScoreRows][kPairs]
  uint32_t* key_pairs = q + kScoreRows * kPairs;                        // [width][kPairs]
  pack_keys(h.queries + h.hidden, h.stride, keys, width, kHeadSize, key_pairs, keys_t);
  pack_values(h.queries + 2 * h.hidden, h.stride, keys, kHeadSize, values);
  for (int64_t first = 0; first < h.real_rows; first += kScoreRows) {
    const int64_t block = smaller(kScoreRows, h.real_rows - first);
    for (int64_t r = 0; r < kScoreRows; ++r) {  // the last query repeated to fill the block
      const float* row = h.queries + (first + smaller(r, block - 1)) * h.stride;
      for (int64_t d = 0; d < kHeadSize; d += 2 * kLanes) {
        _mm512_storeu_si512(q + r * kPairs + d / 2, neighbours(row + d));
      }
    }
    score_rows(q, kPairs, keys_t, width, scale, scores);
    float inverse_sum[kScoreRows];
    avx512::softmax_rows(scores, block, keys, width, inverse_sum);
    weigh_values<kHeadSize>(scores, width, values, keys, block, inverse_sum, weights, h.out_rows + first * h.hidden,
                            h.hidden);
  }
  avx512::zero_padding_rows(h, kHeadSize);
}

}  // namespace

bool handles(const AttentionShape& shape) { return shape.head_size == 32 || shape.head_size == 64; }

size_t scratch_floats(const AttentionShape& shape) {
  const int64_t width = padded_keys(shape.sequence < 1 ? 1 : shape.sequence);
  // scores, Kᵀ pairs, V pairs, the weights' pairs, the queries' pairs, K's rows in pairs (4-byte words)
  return static_cast<size_t>(kScoreRows * width + shape.head_size / 2 * width + width / 2 * shape.head_size +
                             kScoreRows * width / 2 + kScoreRows * shape.head_size / 2 +
                             width * shape.head_size / 2);
}

void attend(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths, int64_t unit, float* out,
            float* scratch) {
  if (shape.head_size == 32) {
    attend_heads<32>(shape, qkv, key_lengths, unit, out, scratch);
  } else {
    attend_heads<64>(shape, qkv, key_lengths, unit, out, scratch);
  }
}

#else  // built without AVX512-BF16 support

bool handles(const AttentionShape&) { return false; }
size_t scratch_floats(const AttentionShape&) { return 0; }
void attend(const AttentionShape&, const float*, const int32_t*, int64_t, float*, float*) {}

#endif

}  // namespace crossrank::avx512_bf16
