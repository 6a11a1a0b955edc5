#include "kernels/layer_norm.h"

#include <cmath>

#include "kernels/cpu_features.h"
#include "kernels/layer_norm_avx512.h"

namespace crossrank {

void add_layer_norm_portable(const LayerNormShape& shape, const float* x, const float* residual,
                             const float* gamma, const float* beta, float epsilon, float* out, int64_t first,
                             int64_t last) {
  const int64_t width = shape.width;
  for (int64_t row = first; row < last; ++row) {
    const float* a = x + row * width;
    const float* b = residual + row * width;
    float* y = out + row * width;
    double sum = 0.0;
    for (int64_t i = 0; i < width; ++i) {
      y[i] = a[i] + b[i];
      sum += y[i];
    }
    const float mean = static_cast<float>(sum / width);
    double squares = 0.0;
    for (int64_t i = 0; i < width; ++i) squares += double(y[i] - mean) * (y[i] - mean);
    const float inverse = 1.0f / std::sqrt(static_cast<float>(squares / width) + epsilon);
    for (int64_t i = 0; i < width; ++i) y[i] = (y[i] - mean) * inverse * gamma[i] + beta[i];
  }
}

void add_layer_norm(const LayerNormShape& shape, const float* x, const float* residual, const float* gamma,
                    const float* beta, float epsilon, float* out, int64_t first, int64_t last) {
  if (avx512_available() && shape.width % 16 == 0) {
    avx512::add_layer_norm(shape, x, residual, gamma, beta, epsilon, out, first, last);
  } else {
    add_layer_norm_portable(shape, x, residual, gamma, beta, epsilon, out, first, last);
  }
}

}  // namespace crossrank
