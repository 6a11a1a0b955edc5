#include "kernels/gelu_avx512.h"

// Compiled with AVX-512 enabled: no standard-library templates here (self_attention_avx512.cc).
#if defined(CROSSRANK_AVX512)
#include <immintrin.h>

#include "kernels/gelu16_avx512.h"
#endif

namespace crossrank::avx512 {

#if defined(CROSSRANK_AVX512)

void gelu(const float* in, float* out, int64_t count) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) _mm512_storeu_ps(out + i, gelu16(_mm512_loadu_ps(in + i)));
  if (i < count) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (count - i)) - 1);
    _mm512_mask_storeu_ps(out + i, tail, gelu16(_mm512_maskz_loadu_ps(tail, in + i)));
  }
}

#else

void gelu(const float*, float*, int64_t) {}

#endif

}  // namespace crossrank::avx512
