// crossrank's ONNX Runtime operators, domain "ai.crossrank". The exporter's engine graphs
// (python/crossrank/engine_graph.py) use them where ONNX Runtime's CPU kernels were measured slow.
//
// SelfAttention(qkv: float [batch, sequence, 3 * hidden], key_lengths: int32 [batch])
//   -> float [batch, sequence, hidden]; attribute num_heads.
//   The attention core of a BERT layer (self_attention.h): engine graphs split ONNX Runtime's
//   (Q)Attention into the QKV projection, run as an ordinary (int8) MatMul, and this operator.
// Gelu(x: float, any shape) -> float, same shape: the erf GELU (gelu.h), for com.microsoft.Gelu.
// AddLayerNorm(x, residual: float [..., width], gamma, beta: float [width]) -> float [..., width];
//   attribute epsilon. LayerNormalization(x + residual) over the last axis (layer_norm.h), for
//   an Add feeding only a LayerNormalization.
// MatMulBf16(a, b, bias?) -> float: bf16 products, fp32 sums; MatMulInt8Token(a, b, bias?) -> float:
//   int8 with a scale per row of a and per column of b (runtime/weight_matmul_ops.h), for the bf16
//   and int8_token rungs' MatMuls with constant weights.
#pragma once

#include <onnxruntime_cxx_api.h>

namespace crossrank {

inline constexpr const char* kOpDomain = "ai.crossrank";

// Makes the operators available to sessions created with these options. Requires ONNX Runtime
// to be loaded (load_onnxruntime).
void add_crossrank_ops(Ort::SessionOptions& options);

}  // namespace crossrank
