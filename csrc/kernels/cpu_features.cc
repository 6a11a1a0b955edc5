#include "kernels/cpu_features.h"

namespace crossrank {

bool avx512_available() {
#if defined(CROSSRANK_AVX512)
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
#else
  return false;
#endif
}

bool avx512_bf16_available() {
#if defined(CROSSRANK_AVX512_BF16)
  static const bool available = avx512_available() && __builtin_cpu_supports("avx512bf16");
  return available;
#else
  return false;
#endif
}

bool avx512_vnni_available() {
#if defined(CROSSRANK_AVX512_VNNI)
  static const bool available = avx512_available() && __builtin_cpu_supports("avx512vnni") &&
                                __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return available;
#else
  return false;
#endif
}

const char* kernel_set() { return avx512_available() ? "avx512" : "portable"; }

}  // namespace crossrank
