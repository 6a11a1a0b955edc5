// GELU on 16 floats at a time, for the files built with AVX-512 (gelu_avx512.cc, and the GEMMs'
// stores when a GELU follows them: matmul_int8_avx512.cc, matmul_bf16_avx512.cc). One definition,
// so a GELU fused into a GEMM gives the same bits as the Gelu operator run after it.
// Intrinsics only, no standard library (self_attention_avx512.cc says why).
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>

namespace crossrank::avx512 {

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

}  // namespace crossrank::avx512

#endif
