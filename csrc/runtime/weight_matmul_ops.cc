#include "runtime/weight_matmul_ops.h"

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/layer_norm.h"
#include "kernels/matmul_bf16.h"
#include "kernels/matmul_int8.h"
#include "runtime/guarded.h"

namespace crossrank {
namespace {

// What distinguishes the two GEMMs: the packed weights, the scratch element, the row chunk.
struct Bf16Gemm {
  static constexpr const char* kName = "MatMulBf16";
  using Weights = PackedBf16Weights;
  using Scratch = uint32_t;
  static constexpr int64_t kRowChunk = kBf16RowChunk;
  static size_t scratch_size(const MatMulShape& shape) { return matmul_bf16_scratch_words(shape); }
  static void rows(const Weights& w, const float* a, int64_t first, int64_t last, float* c, Scratch* s) {
    matmul_bf16_rows(w, a, first, last, c, s);
  }
};

struct Int8TokenGemm {
  static constexpr const char* kName = "MatMulInt8Token";
  using Weights = PackedInt8Weights;
  using Scratch = uint64_t;  // 8-byte elements keep the byte buffer aligned for the int32 broadcasts
  static constexpr int64_t kRowChunk = kInt8RowChunk;
  static size_t scratch_size(const MatMulShape& shape) { return (matmul_int8_scratch_bytes(shape) + 7) / 8; }
  static void rows(const Weights& w, const float* a, int64_t first, int64_t last, float* c, Scratch* s) {
    matmul_int8_rows(w, a, first, last, c, reinterpret_cast<uint8_t*>(s));
  }
};

template <typename Gemm>
OrtStatusPtr error(const std::string& message) {
  return Ort::Status((std::string(Gemm::kName) + ": " + message).c_str(), ORT_INVALID_ARGUMENT).release();
}

// The residual Add + LayerNormalization a GEMM may end with (inputs residual, gamma, beta).
struct ResidualNorm {
  std::vector<float> gamma, beta;  // [columns]
  float epsilon = 0.0f;
};

template <typename Gemm>
struct MatMulWork {
  const typename Gemm::Weights* weights;
  const float* a;
  float* c;
  int64_t rows;
  const ResidualNorm* norm;  // null: none
  const float* residual;     // [rows, columns] when norm is set
};

template <typename Gemm>
void run_row_chunk(void* data, size_t chunk) {
  const MatMulWork<Gemm>& work = *static_cast<const MatMulWork<Gemm>*>(data);
  // One buffer per thread, kept between calls: a chunk's A rows in the kernel's format (a few KiB).
  thread_local std::vector<typename Gemm::Scratch> scratch;
  scratch.resize(Gemm::scratch_size(work.weights->shape()));
  const int64_t first = static_cast<int64_t>(chunk) * Gemm::kRowChunk;
  const int64_t last = first + Gemm::kRowChunk < work.rows ? first + Gemm::kRowChunk : work.rows;
  Gemm::rows(*work.weights, work.a, first, last, work.c, scratch.data());
  if (work.norm != nullptr) {
    // The chunk's rows of C are still in L1/L2 (32 x 384 floats: 48 KiB): normalize them now rather
    // than in a pass of AddLayerNorm over all of C after the GEMM.
    const int64_t columns = work.weights->shape().columns;
    add_layer_norm(LayerNormShape{work.rows, columns}, work.c, work.residual, work.norm->gamma.data(),
                   work.norm->beta.data(), work.norm->epsilon, work.c, first, last);
  }
}

template <typename Gemm>
struct WeightMatMulKernel {
  std::unique_ptr<typename Gemm::Weights> weights;
  std::unique_ptr<ResidualNorm> norm;  // null: the GEMM ends at its activation

  OrtStatusPtr ComputeV2(OrtKernelContext* raw_context) {
    return guarded([&]() -> OrtStatusPtr {
      Ort::KernelContext context(raw_context);
      const Ort::ConstValue a = context.GetInput(0);
      std::vector<int64_t> dims = a.GetTensorTypeAndShapeInfo().GetShape();
      const MatMulShape& shape = weights->shape();
      if (dims.size() < 2 || dims.back() != shape.depth) {
        return error<Gemm>("input a must have rank 2 or more and " + std::to_string(shape.depth) +
                           " columns (B's rows), got rank " + std::to_string(dims.size()) +
                           (dims.empty() ? std::string() : " with " + std::to_string(dims.back()) + " columns"));
      }
      int64_t rows = 1;
      for (size_t i = 0; i + 1 < dims.size(); ++i) rows *= dims[i];
      dims.back() = shape.columns;
      const float* residual = nullptr;
      if (norm) {
        const Ort::ConstValue r = context.GetInput(3);
        if (r.GetTensorTypeAndShapeInfo().GetShape() != dims) {
          return error<Gemm>("input residual must have the output's shape");
        }
        residual = r.GetTensorData<float>();
      }
      Ort::UnownedValue c = context.GetOutput(0, dims);
      MatMulWork<Gemm> work{weights.get(), a.GetTensorData<float>(), c.GetTensorMutableData<float>(), rows,
                            norm.get(), residual};
      const size_t chunks = static_cast<size_t>((rows + Gemm::kRowChunk - 1) / Gemm::kRowChunk);
      if (chunks > 0) context.ParallelFor(run_row_chunk<Gemm>, chunks, 0, &work);
      return nullptr;
    });
  }
};

// Input INDEX as a constant tensor's data and shape; an error status when it is not an initializer.
template <typename Gemm>
OrtStatusPtr constant_input(const Ort::ConstKernelInfo& info, size_t index, const char* what, const float** data,
                            std::vector<int64_t>* dims) {
  int is_constant = 0;
  const Ort::ConstValue value = info.GetTensorConstantInput(index, &is_constant);
  if (!is_constant) return error<Gemm>(std::string(what) + " must be a constant initializer (it is packed once)");
  *dims = value.GetTensorTypeAndShapeInfo().GetShape();
  *data = value.GetTensorData<float>();
  return nullptr;
}

// Inputs residual, gamma, beta (3-5) and the attribute epsilon, when the node has them: the
// residual Add + LayerNormalization moved into the GEMM (gamma and beta constants of [COLUMNS]).
template <typename Gemm>
OrtStatusPtr residual_norm(const Ort::ConstKernelInfo& info, int64_t columns, std::unique_ptr<ResidualNorm>* out) {
  if (info.GetInputCount() <= 3) return nullptr;
  if (info.GetInputCount() != 6) return error<Gemm>("a residual LayerNorm needs inputs residual, gamma and beta");
  auto norm = std::make_unique<ResidualNorm>();
  for (const auto& [index, what, target] : {std::make_tuple(4, "input gamma", &norm->gamma),
                                            std::make_tuple(5, "input beta", &norm->beta)}) {
    const float* data = nullptr;
    std::vector<int64_t> dims;
    if (OrtStatusPtr status = constant_input<Gemm>(info, index, what, &data, &dims)) return status;
    if (dims.size() != 1 || dims[0] != columns) return error<Gemm>(std::string(what) + " must be [columns] of b");
    target->assign(data, data + columns);
  }
  norm->epsilon = info.GetAttribute<float>("epsilon");
  *out = std::move(norm);
  return nullptr;
}

// The optional string attribute "activation": absent or "" (none) or "gelu"; an error status otherwise.
template <typename Gemm>
OrtStatusPtr activation_attribute(const Ort::ConstKernelInfo& info, Activation* activation) {
  std::string name;
  try {
    name = info.GetAttribute<std::string>("activation");
  } catch (const Ort::Exception&) {
    return nullptr;  // absent: none
  }
  if (name == "gelu") {
    *activation = Activation::kGelu;
  } else if (!name.empty()) {
    return error<Gemm>("attribute activation must be \"gelu\" or empty, got \"" + name + "\"");
  }
  return nullptr;
}

template <typename Gemm>
struct WeightMatMulOp : Ort::CustomOpBase<WeightMatMulOp<Gemm>, WeightMatMulKernel<Gemm>, /*WithStatus=*/true> {
  OrtStatusPtr CreateKernelV2(const OrtApi& /*api*/, const OrtKernelInfo* raw_info, void** kernel) const {
    return guarded([&]() -> OrtStatusPtr {
      const Ort::ConstKernelInfo info(raw_info);
      const float* b = nullptr;
      const float* bias = nullptr;
      std::vector<int64_t> b_dims, bias_dims;
      if (OrtStatusPtr status = constant_input<Gemm>(info, 1, "input b", &b, &b_dims)) return status;
      if (b_dims.size() != 2) return error<Gemm>("input b must be [depth, columns]");
      if (info.GetInputCount() > 2) {
        if (OrtStatusPtr status = constant_input<Gemm>(info, 2, "input bias", &bias, &bias_dims)) return status;
        if (bias_dims.size() != 1 || bias_dims[0] != b_dims[1]) return error<Gemm>("input bias must be [columns] of b");
      }
      Activation activation = Activation::kNone;
      if (OrtStatusPtr status = activation_attribute<Gemm>(info, &activation)) return status;
      std::unique_ptr<ResidualNorm> norm;
      if (OrtStatusPtr status = residual_norm<Gemm>(info, b_dims[1], &norm)) return status;
      *kernel = new WeightMatMulKernel<Gemm>{
          std::make_unique<typename Gemm::Weights>(b, b_dims[0], b_dims[1], bias, activation), std::move(norm)};
      return nullptr;
    });
  }
  const char* GetName() const { return Gemm::kName; }
  size_t GetInputTypeCount() const { return 6; }  // a, b, bias?, residual?, gamma?, beta?
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  OrtCustomOpInputOutputCharacteristic GetInputCharacteristic(size_t index) const {
    return index >= 2 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

const OrtCustomOp* make_matmul_bf16_op() { return new WeightMatMulOp<Bf16Gemm>(); }

const OrtCustomOp* make_matmul_int8_token_op() { return new WeightMatMulOp<Int8TokenGemm>(); }

}  // namespace crossrank
