#include "kernels/self_attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_features.h"
#include "kernels/self_attention_avx512.h"
#include "kernels/self_attention_bf16_avx512.h"

namespace crossrank {

// Any CPU, any head size: the same arithmetic as the AVX-512 kernel in plain loops.
void self_attention_unit_portable(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths, int64_t unit,
                     float* out, float* scratch) {
  const int64_t head_size = shape.head_size, hidden = shape.hidden(), stride = 3 * hidden;
  const int64_t batch = unit / shape.heads, head = unit % shape.heads;
  const int64_t keys = std::clamp<int64_t>(key_lengths[batch], 1, shape.sequence);
  const float* queries = qkv + batch * shape.sequence * stride + head * head_size;
  const float* key_rows = queries + hidden;
  const float* value_rows = queries + 2 * hidden;
  const int64_t rows = shape.output_rows(), real_rows = std::min(keys, rows);
  float* out_rows = out + batch * rows * hidden + head * head_size;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_size));
  float* weights = scratch;  // one row of scores, then of softmax weights
  for (int64_t i = 0; i < real_rows; ++i) {
    const float* q = queries + i * stride;
    float top = -INFINITY;
    for (int64_t j = 0; j < keys; ++j) {
      const float* k = key_rows + j * stride;
      float dot = 0.0f;
      for (int64_t d = 0; d < head_size; ++d) dot += q[d] * k[d];
      weights[j] = dot * scale;
      top = std::max(top, weights[j]);
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < keys; ++j) sum += weights[j] = std::exp(weights[j] - top);
    float* o = out_rows + i * hidden;
    std::fill(o, o + head_size, 0.0f);
    for (int64_t j = 0; j < keys; ++j) {
      const float* v = value_rows + j * stride;
      for (int64_t d = 0; d < head_size; ++d) o[d] += weights[j] * v[d];
    }
    for (int64_t d = 0; d < head_size; ++d) o[d] /= sum;
  }
  for (int64_t i = real_rows; i < rows; ++i) {
    std::fill(out_rows + i * hidden, out_rows + i * hidden + head_size, 0.0f);
  }
}

size_t attention_scratch_floats(const AttentionShape& shape) {
  return std::max({avx512::scratch_floats(shape), avx512_bf16::scratch_floats(shape),
                   static_cast<size_t>(std::max<int64_t>(shape.sequence, 1))});
}

void self_attention_unit(const AttentionShape& shape, const float* qkv, const int32_t* key_lengths, int64_t unit,
                         float* out, float* scratch) {
  if (shape.bf16 && avx512_bf16_available() && avx512_bf16::handles(shape)) {
    avx512_bf16::attend(shape, qkv, key_lengths, unit, out, scratch);
  } else if (avx512_available() && avx512::handles(shape)) {
    avx512::attend(shape, qkv, key_lengths, unit, out, scratch);
  } else {
    self_attention_unit_portable(shape, qkv, key_lengths, unit, out, scratch);
  }
}

}  // namespace crossrank
