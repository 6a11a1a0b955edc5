#include "kernels/gelu_avx512.h"

// Compiled with AVX-512 enabled: no standard-library templates here (self_attention_avx512.cc).
#if defined(CROSSRANK_AVX512)
#include <immintrin.h>
#endif

namespace crossrank::avx512 {

#if defined(CROSSRANK_AVX512)
namespace {

// erf(z) for z >= 0 by Abramowitz & Stegun 7.1.28, 1 - (1 + a1 z + ... + a6 z^6)^-16 (|error|
// <= 3e-7): no exp and no division, unlike 7.1.26. z is capped at 5, where erf is 1 in float
// and the 16th power still fits.
inline __m512 erf_nonnegative(__m512 z) {
  z = _mm512_min_ps(z, _mm512_set1_ps(5.0f));
  __m512 p = _mm512_set1_ps(0.0000430638f);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0002765672f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0001520143f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0092705272f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0422820123f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0705230784f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.0f));
  p = _mm512_mul_ps(p, p);
  p = _mm512_mul_ps(p, p);
  p = _mm512_mul_ps(p, p);
  p = _mm512_mul_ps(p, p);
  __m512 inverse = _mm512_rcp14_ps(p);
  inverse = _mm512_mul_ps(inverse, _mm512_fnmadd_ps(p, inverse, _mm512_set1_ps(2.0f)));  // Newton step
  return _mm512_sub_ps(_mm512_set1_ps(1.0f), inverse);
}

// x · Φ(x) = x/2 + |x/2| · erf(|x| / √2), erf being odd (halved first: no overflow near FLT_MAX).
inline __m512 gelu16(__m512 x) {
  const __m512 half = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
  const __m512 erf = erf_nonnegative(_mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f)));
  return _mm512_fmadd_ps(_mm512_abs_ps(half), erf, half);
}

}  // namespace

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
