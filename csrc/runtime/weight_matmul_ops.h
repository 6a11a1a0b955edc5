// crossrank's GEMMs on a constant weight, as ONNX Runtime custom ops (domain ai.crossrank):
//
// MatMulBf16(a: float [..., depth], b: float [depth, columns], bias: float [columns] optional)
//   -> float [..., columns]: the bf16 rung's GEMM (kernels/matmul_bf16.h), bf16 products, fp32 sums.
// MatMulInt8Token(a, b, bias?) -> float, the same signature: the int8_token rung's GEMM
//   (kernels/matmul_int8.h), a quantized per row (token), b per column, exact int32 sums.
// Both take an optional string attribute activation: "gelu" applies GELU to each result as it is
// stored (the GELU after the FFN's first GEMM, fused so that it costs no pass of its own over C).
// Optional inputs residual [..., columns], gamma and beta [columns] (constants) with the attribute
// epsilon end the GEMM with a sub-layer's residual Add + LayerNormalization (kernels/layer_norm.h),
// done on each row chunk as soon as the GEMM has written it, while it is still in cache.
//
// B (and the bias) must be initializers: the kernel packs them once, when ONNX Runtime creates it;
// a's rows (all axes but the last, as MatMul broadcasts them; rank 2 or more) are split over ONNX
// Runtime's threads in chunks of the kernel's row chunk. Engine graphs of the two rungs
// (python/crossrank/export/weight_matmul_graph.py) use them for every MatMul with a constant weight.
#pragma once

#include <onnxruntime_cxx_api.h>

namespace crossrank {

// A new MatMulBf16 operator for a custom-op domain (add_crossrank_ops keeps it for the process).
const OrtCustomOp* make_matmul_bf16_op();

// A new MatMulInt8Token operator, likewise.
const OrtCustomOp* make_matmul_int8_token_op();

}  // namespace crossrank
