#include "runtime/matmul_bf16_op.h"

#include <memory>
#include <string>
#include <vector>

#include "kernels/matmul_bf16.h"
#include "runtime/guarded.h"

namespace crossrank {
namespace {

OrtStatusPtr error(const std::string& message) {
  return Ort::Status(("MatMulBf16: " + message).c_str(), ORT_INVALID_ARGUMENT).release();
}

struct MatMulWork {
  const PackedBf16Weights* weights;
  const float* a;
  float* c;
  int64_t rows;
};

void run_row_chunk(void* data, size_t chunk) {
  const MatMulWork& work = *static_cast<const MatMulWork*>(data);
  // One buffer per thread, kept between calls: a chunk's A rows as bf16 pairs (a few KiB).
  thread_local std::vector<uint32_t> scratch;
  scratch.resize(matmul_bf16_scratch_words(work.weights->shape()));
  const int64_t first = static_cast<int64_t>(chunk) * kBf16RowChunk;
  const int64_t last = first + kBf16RowChunk < work.rows ? first + kBf16RowChunk : work.rows;
  matmul_bf16_rows(*work.weights, work.a, first, last, work.c, scratch.data());
}

struct MatMulBf16Kernel {
  std::unique_ptr<PackedBf16Weights> weights;

  OrtStatusPtr ComputeV2(OrtKernelContext* raw_context) {
    return guarded([&]() -> OrtStatusPtr {
      Ort::KernelContext context(raw_context);
      const Ort::ConstValue a = context.GetInput(0);
      std::vector<int64_t> dims = a.GetTensorTypeAndShapeInfo().GetShape();
      const MatMulShape& shape = weights->shape();
      if (dims.size() < 2 || dims.back() != shape.depth) {
        return error("input a must have rank 2 or more and " + std::to_string(shape.depth) +
                     " columns (B's rows), got rank " + std::to_string(dims.size()) +
                     (dims.empty() ? std::string() : " with " + std::to_string(dims.back()) + " columns"));
      }
      int64_t rows = 1;
      for (size_t i = 0; i + 1 < dims.size(); ++i) rows *= dims[i];
      dims.back() = shape.columns;
      Ort::UnownedValue c = context.GetOutput(0, dims);
      MatMulWork work{weights.get(), a.GetTensorData<float>(), c.GetTensorMutableData<float>(), rows};
      const size_t chunks = static_cast<size_t>((rows + kBf16RowChunk - 1) / kBf16RowChunk);
      if (chunks > 0) context.ParallelFor(run_row_chunk, chunks, 0, &work);
      return nullptr;
    });
  }
};

// Input INDEX as a constant tensor's data and shape; an error status when it is not an initializer.
OrtStatusPtr constant_input(const Ort::ConstKernelInfo& info, size_t index, const char* what, const float** data,
                            std::vector<int64_t>* dims) {
  int is_constant = 0;
  const Ort::ConstValue value = info.GetTensorConstantInput(index, &is_constant);
  if (!is_constant) {
    return error(std::string(what) + " must be a constant initializer (it is packed into bf16 once)");
  }
  *dims = value.GetTensorTypeAndShapeInfo().GetShape();
  *data = value.GetTensorData<float>();
  return nullptr;
}

struct MatMulBf16Op : Ort::CustomOpBase<MatMulBf16Op, MatMulBf16Kernel, /*WithStatus=*/true> {
  OrtStatusPtr CreateKernelV2(const OrtApi& /*api*/, const OrtKernelInfo* raw_info, void** kernel) const {
    return guarded([&]() -> OrtStatusPtr {
      const Ort::ConstKernelInfo info(raw_info);
      const float* b = nullptr;
      const float* bias = nullptr;
      std::vector<int64_t> b_dims, bias_dims;
      if (OrtStatusPtr status = constant_input(info, 1, "input b", &b, &b_dims)) return status;
      if (b_dims.size() != 2) return error("input b must be [depth, columns]");
      if (info.GetInputCount() > 2) {
        if (OrtStatusPtr status = constant_input(info, 2, "input bias", &bias, &bias_dims)) return status;
        if (bias_dims.size() != 1 || bias_dims[0] != b_dims[1]) return error("input bias must be [columns] of b");
      }
      *kernel = new MatMulBf16Kernel{std::make_unique<PackedBf16Weights>(b, b_dims[0], b_dims[1], bias)};
      return nullptr;
    });
  }
  const char* GetName() const { return "MatMulBf16"; }
  size_t GetInputTypeCount() const { return 3; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t index) const {
    return index == 2 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

const OrtCustomOp* make_matmul_bf16_op() { return new MatMulBf16Op(); }

}  // namespace crossrank
