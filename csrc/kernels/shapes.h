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
  // Leading query positions computed, the output's rows per sequence; 0: every position. A
  // classifier that reads only the first token needs the last layer's attention for query 0 alone
  // (crossrank/export/first_token_tail.py), while every position still serves as a key.
  int64_t queries = 0;
  // Whether Q·Kᵀ and the weighted sum of V may multiply in bf16 where the CPU has AVX512-BF16
  // (self_attention_bf16_avx512.h); elsewhere they stay fp32.
  bool bf16 = false;

  int64_t hidden() const { return heads * head_size; }
  int64_t output_rows() const { return queries > 0 && queries < sequence ? queries : sequence; }
  int64_t units() const { return batch * heads; }  // independent (sequence, head) pieces of work
};

// Rows of a matrix normalized along its last axis (layer_norm.h).
struct LayerNormShape {
  int64_t rows = 0;
  int64_t width = 0;  // the normalized (last) axis
};

// What a GEMM applies to each element of C as it stores it (matmul_bf16.h, matmul_int8.h): a GELU
// that follows the GEMM in the graph costs no pass of its own over C.
enum class Activation { kNone, kGelu };

// C[rows, columns] = A[rows, depth] · B[depth, columns] (matmul_bf16.h, matmul_int8.h).
struct MatMulShape {
  int64_t depth = 0;    // K: A's columns, B's rows
  int64_t columns = 0;  // N: B's and C's columns

  int64_t pairs() const { return (depth + 1) / 2; }        // bf16 pairs along depth (odd: zero-padded)
  int64_t quads() const { return (depth + 3) / 4; }        // int8 quads along depth (zero-padded)
  int64_t panels() const { return (columns + 15) / 16; }  // 16-column panels of packed B
};

}  // namespace crossrank
