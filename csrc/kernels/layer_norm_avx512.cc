#include "kernels/layer_norm_avx512.h"

// Compiled with AVX-512 enabled: no standard-library templates here (self_attention_avx512.cc).
#if defined(CROSSRANK_AVX512)
#include <immintrin.h>
#endif

namespace crossrank::avx512 {

#if defined(CROSSRANK_AVX512)

void add_layer_norm(const LayerNormShape& shape, const float* x, const float* residual, const float* gamma,
                    const float* beta, float epsilon, float* out, int64_t first, int64_t last) {
  const int64_t width = shape.width;
  const __m512 count = _mm512_set1_ps(static_cast<float>(width));
  for (int64_t row = first; row < last; ++row) {
    const float* a = x + row * width;
    const float* b = residual + row * width;
    float* y = out + row * width;
    // Pass 1: the sum (written to y; the row then stays in L1 for the next two passes).
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < width; i += 16) {
      const __m512 v = _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
      _mm512_storeu_ps(y + i, v);
      sum = _mm512_add_ps(sum, v);
    }
    const __m512 mean = _mm512_div_ps(_mm512_set1_ps(_mm512_reduce_add_ps(sum)), count);
    // Pass 2: the variance around the mean (two passes: no cancellation, unlike E[x²] - E[x]²).
    __m512 squares = _mm512_setzero_ps();
    for (int64_t i = 0; i < width; i += 16) {
      const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(y + i), mean);
      squares = _mm512_fmadd_ps(d, d, squares);
    }
    const float variance = _mm512_reduce_add_ps(squares) / static_cast<float>(width);
    const __m512 inverse = _mm512_set1_ps(1.0f / __builtin_sqrtf(variance + epsilon));
    // Pass 3: normalize, scale, shift.
    for (int64_t i = 0; i < width; i += 16) {
      const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(y + i), mean), inverse);
      _mm512_storeu_ps(y + i, _mm512_fmadd_ps(d, _mm512_loadu_ps(gamma + i), _mm512_loadu_ps(beta + i)));
    }
  }
}

#else

void add_layer_norm(const LayerNormShape&, const float*, const float*, const float*, const float*, float, float*,
                    int64_t, int64_t) {}

#endif

}  // namespace crossrank::avx512
