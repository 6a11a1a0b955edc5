// The shapes the kernels work on, apart from the kernels themselves, so that the AVX-512
// headers (compiled with their own flags) need not include their dispatchers.
#pragma once

#include <cstdint>

namespace crossrank {

// Packed Q | K | V projections of a batch of sequences (self_attention.h).
struct AttentionShape {
  int64_t batch = 0;
  int64_t sequence = 0;
  int64_t heads = 0;
  int64_t head_size = 0;

  int64_t hidden() const { return heads * head_size; }
  int64_t units() const { return batch * heads; }  // independent (sequence, head) pieces of work
};

// Rows of a matrix normalized along its last axis (layer_norm.h).
struct LayerNormShape {
  int64_t rows = 0;
  int64_t width = 0;  // the normalized (last) axis
};

}  // namespace crossrank
