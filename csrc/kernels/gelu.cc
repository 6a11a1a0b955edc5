#include "kernels/gelu.h"

#include <cmath>

#include "kernels/cpu_features.h"
#include "kernels/gelu_avx512.h"

namespace crossrank {

void gelu_portable(const float* in, float* out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) out[i] = 0.5f * in[i] * (1.0f + std::erf(in[i] * 0.70710678118654752f));
}

void gelu(const float* in, float* out, int64_t count) {
  if (avx512_available()) {
    avx512::gelu(in, out, count);
  } else {
    gelu_portable(in, out, count);
  }
}

}  // namespace crossrank
