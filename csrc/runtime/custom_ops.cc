#include "runtime/custom_ops.h"

#include <string>
#include <vector>

#include "kernels/gelu.h"
#include "kernels/layer_norm.h"
#include "kernels/self_attention.h"
#include "runtime/guarded.h"
#include "runtime/weight_matmul_ops.h"

namespace crossrank {
namespace {

struct AttentionWork {
  AttentionShape shape;
  const float* qkv;
  const int32_t* key_lengths;
  float* out;
};

void run_attention_unit(void* data, size_t unit) {
  const AttentionWork& work = *static_cast<const AttentionWork*>(data);
  // One buffer per thread, kept between calls: a unit needs a few tens of KiB.
  thread_local std::vector<float> scratch;
  scratch.resize(attention_scratch_floats(work.shape));
  self_attention_unit(work.shape, work.qkv, work.key_lengths, static_cast<int64_t>(unit), work.out, scratch.data());
}

// An optional int attribute of the node; 0 when absent.
int64_t optional_int(const OrtKernelInfo* info, const char* name) {
  try {
    return Ort::ConstKernelInfo(info).GetAttribute<int64_t>(name);
  } catch (const Ort::Exception&) {
    return 0;
  }
}

struct SelfAttentionKernel {
  int64_t heads;
  int64_t query_rows;  // 0: every position; else the leading positions computed (AttentionShape::queries)
  bool bf16;           // products in bf16 where the CPU has AVX512-BF16 (AttentionShape::bf16)

  OrtStatusPtr ComputeV2(OrtKernelContext* raw_context) {
    return guarded([&]() -> OrtStatusPtr {
      Ort::KernelContext context(raw_context);
      const Ort::ConstValue qkv = context.GetInput(0);
      const Ort::ConstValue lengths = context.GetInput(1);
      const std::vector<int64_t> dims = qkv.GetTensorTypeAndShapeInfo().GetShape();
      if (dims.size() != 3 || dims[2] % (3 * heads) != 0) {
        return Ort::Status("SelfAttention: qkv must be [batch, sequence, 3 * num_heads * head_size]",
                           ORT_INVALID_ARGUMENT).release();
      }
      if (lengths.GetTensorTypeAndShapeInfo().GetElementCount() != static_cast<size_t>(dims[0])) {
        return Ort::Status("SelfAttention: key_lengths must hold one length per sequence", ORT_INVALID_ARGUMENT)
            .release();
      }
      const AttentionShape shape{dims[0], dims[1], heads, dims[2] / (3 * heads), query_rows, bf16};
      Ort::UnownedValue out = context.GetOutput(0, {shape.batch, shape.output_rows(), shape.hidden()});
      AttentionWork work{shape, qkv.GetTensorData<float>(), lengths.GetTensorData<int32_t>(), out.GetTensorMutableData<float>()};
      if (shape.units() > 0) context.ParallelFor(run_attention_unit, static_cast<size_t>(shape.units()), 0, &work);
      return nullptr;
    });
  }
};

struct SelfAttentionOp : Ort::CustomOpBase<SelfAttentionOp, SelfAttentionKernel, /*WithStatus=*/true> {
  OrtStatusPtr CreateKernelV2(const OrtApi& /*api*/, const OrtKernelInfo* info, void** kernel) const {
    return guarded([&]() -> OrtStatusPtr {
      const int64_t heads = Ort::ConstKernelInfo(info).GetAttribute<int64_t>("num_heads");
      if (heads <= 0) return Ort::Status("SelfAttention: num_heads must be positive", ORT_INVALID_ARGUMENT).release();
      const int64_t query_rows = optional_int(info, "query_rows");
      const int64_t bf16 = optional_int(info, "bf16");
      if (query_rows < 0) {
        return Ort::Status("SelfAttention: query_rows must be 0 (every position) or positive", ORT_INVALID_ARGUMENT)
            .release();
      }
      if (bf16 != 0 && bf16 != 1) return Ort::Status("SelfAttention: bf16 must be 0 or 1", ORT_INVALID_ARGUMENT).release();
      *kernel = new SelfAttentionKernel{heads, query_rows, bf16 == 1};
      return nullptr;
    });
  }
  const char* GetName() const { return "SelfAttention"; }
  size_t GetInputTypeCount() const { return 2; }
  ONNXTensorElementDataType GetInputType(size_t index) const {
    return index == 0 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT : ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
  }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

struct GeluWork {
  const float* in;
  float* out;
  int64_t count;
};

constexpr int64_t kGeluChunk = 16384;  // elements per task when ONNX Runtime runs several threads

void run_gelu_chunk(void* data, size_t chunk) {
  const GeluWork& work = *static_cast<const GeluWork*>(data);
  const int64_t begin = static_cast<int64_t>(chunk) * kGeluChunk;
  const int64_t end = begin + kGeluChunk < work.count ? begin + kGeluChunk : work.count;
  gelu(work.in + begin, work.out + begin, end - begin);
}

struct GeluKernel {
  OrtStatusPtr ComputeV2(OrtKernelContext* raw_context) {
    return guarded([&]() -> OrtStatusPtr {
      Ort::KernelContext context(raw_context);
      const Ort::ConstValue x = context.GetInput(0);
      const auto info = x.GetTensorTypeAndShapeInfo();
      Ort::UnownedValue y = context.GetOutput(0, info.GetShape());
      GeluWork work{x.GetTensorData<float>(), y.GetTensorMutableData<float>(),
                    static_cast<int64_t>(info.GetElementCount())};
      const size_t chunks = static_cast<size_t>((work.count + kGeluChunk - 1) / kGeluChunk);
      if (chunks > 0) context.ParallelFor(run_gelu_chunk, chunks, 0, &work);
      return nullptr;
    });
  }
};

struct GeluOp : Ort::CustomOpBase<GeluOp, GeluKernel, /*WithStatus=*/true> {
  OrtStatusPtr CreateKernelV2(const OrtApi& /*api*/, const OrtKernelInfo* /*info*/, void** kernel) const {
    *kernel = new GeluKernel();
    return nullptr;
  }
  const char* GetName() const { return "Gelu"; }
  size_t GetInputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

struct LayerNormWork {
  LayerNormShape shape;
  const float* x;
  const float* residual;
  const float* gamma;
  const float* beta;
  float epsilon;
  float* out;
};

constexpr int64_t kLayerNormRows = 64;  // rows per task when ONNX Runtime runs several threads

void run_layer_norm_rows(void* data, size_t chunk) {
  const LayerNormWork& w = *static_cast<const LayerNormWork*>(data);
  const int64_t first = static_cast<int64_t>(chunk) * kLayerNormRows;
  const int64_t last = first + kLayerNormRows < w.shape.rows ? first + kLayerNormRows : w.shape.rows;
  add_layer_norm(w.shape, w.x, w.residual, w.gamma, w.beta, w.epsilon, w.out, first, last);
}

struct AddLayerNormKernel {
  float epsilon;

  OrtStatusPtr ComputeV2(OrtKernelContext* raw_context) {
    return guarded([&]() -> OrtStatusPtr {
      Ort::KernelContext context(raw_context);
      const Ort::ConstValue x = context.GetInput(0), residual = context.GetInput(1);
      const Ort::ConstValue gamma = context.GetInput(2), beta = context.GetInput(3);
      const auto info = x.GetTensorTypeAndShapeInfo();
      const std::vector<int64_t> dims = info.GetShape();
      const int64_t width = dims.empty() ? 0 : dims.back();
      if (dims.empty() || residual.GetTensorTypeAndShapeInfo().GetShape() != dims ||
          gamma.GetTensorTypeAndShapeInfo().GetElementCount() != static_cast<size_t>(width) ||
          beta.GetTensorTypeAndShapeInfo().GetElementCount() != static_cast<size_t>(width)) {
        return Ort::Status("AddLayerNorm: x and residual must share a shape, gamma and beta match its last axis",
                           ORT_INVALID_ARGUMENT).release();
      }
      const int64_t count = static_cast<int64_t>(info.GetElementCount());
      Ort::UnownedValue y = context.GetOutput(0, dims);
      LayerNormWork work{{width ? count / width : 0, width}, x.GetTensorData<float>(),
                         residual.GetTensorData<float>(), gamma.GetTensorData<float>(),
                         beta.GetTensorData<float>(), epsilon, y.GetTensorMutableData<float>()};
      const size_t chunks = static_cast<size_t>((work.shape.rows + kLayerNormRows - 1) / kLayerNormRows);
      if (chunks > 0) context.ParallelFor(run_layer_norm_rows, chunks, 0, &work);
      return nullptr;
    });
  }
};

struct AddLayerNormOp : Ort::CustomOpBase<AddLayerNormOp, AddLayerNormKernel, /*WithStatus=*/true> {
  OrtStatusPtr CreateKernelV2(const OrtApi& /*api*/, const OrtKernelInfo* info, void** kernel) const {
    return guarded([&]() -> OrtStatusPtr {
      *kernel = new AddLayerNormKernel{Ort::ConstKernelInfo(info).GetAttribute<float>("epsilon")};
      return nullptr;
    });
  }
  const char* GetName() const { return "AddLayerNorm"; }
  size_t GetInputTypeCount() const { return 4; }
  ONNXTensorElementDataType GetInputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
  size_t GetOutputTypeCount() const { return 1; }
  ONNXTensorElementDataType GetOutputType(size_t) const { return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT; }
};

}  // namespace

void add_crossrank_ops(Ort::SessionOptions& options) {
  // Sessions keep pointers to the ops and their domain: all live as long as the process.
  static Ort::CustomOpDomain* domain = [] {
    auto* d = new Ort::CustomOpDomain(kOpDomain);
    d->Add(new SelfAttentionOp());
    d->Add(new GeluOp());
    d->Add(new AddLayerNormOp());
    d->Add(make_matmul_bf16_op());
    d->Add(make_matmul_int8_token_op());
    return d;
  }();
  options.Add(*domain);
}

}  // namespace crossrank
