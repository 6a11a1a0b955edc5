// MatMulBf16(a: float [..., depth], b: float [depth, columns] constant, bias: float [columns] constant,
//   optional) -> float [..., columns], domain ai.crossrank: the bf16 rung's GEMM (kernels/matmul_bf16.h).
//   B (and the bias) must be initializers: the kernel packs them into bf16 panels once, when ONNX
//   Runtime creates it; a's rows (all axes but the last, as MatMul broadcasts them; rank 2 or more)
//   are split over ONNX Runtime's threads. Engine graphs of the bf16 rung
//   (python/crossrank/export/bf16_graph.py) use it for every MatMul with a constant weight.
#pragma once

#include <onnxruntime_cxx_api.h>

namespace crossrank {

// A new MatMulBf16 operator for a custom-op domain (add_crossrank_ops keeps it for the process).
const OrtCustomOp* make_matmul_bf16_op();

}  // namespace crossrank
