// crossrank's ONNX Runtime operators, domain "ai.crossrank".
//
// SelfAttention(qkv: float [batch, sequence, 3 * hidden], key_lengths: int32 [batch])
//   -> float [batch, sequence, hidden]; attribute num_heads.
// The attention core of a BERT layer (self_attention.h). The exporter's engine graphs
// (python/crossrank/engine_graph.py) split ONNX Runtime's (Q)Attention into the QKV projection,
// which ONNX Runtime runs as an ordinary (int8) MatMul, and this operator.
#pragma once

#include <onnxruntime_cxx_api.h>

namespace crossrank {

inline constexpr const char* kOpDomain = "ai.crossrank";

// Makes the operators available to sessions created with these options. Requires ONNX Runtime
// to be loaded (load_onnxruntime).
void add_crossrank_ops(Ort::SessionOptions& options);

}  // namespace crossrank
