#include "core/custom_ops.h"

#include <string>
#include <vector>

#include "core/gelu.h"
#include "core/self_attention.h"

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

struct SelfAttentionKernel {
  int64_t heads;

  OrtStatusPtr ComputeV2(OrtKernelContext* raw_context) {
    try {
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
      const AttentionShape shape{dims[0], dims[1], heads, dims[2] / (3 * heads)};
      Ort::UnownedValue out = context.GetOutput(0, {shape.batch, shape.sequence, shape.hidden()});
      AttentionWork work{shape, qkv.GetTensorData<float>(), lengths.GetTensorData<int32_t>(), out.GetTensorMutableData<float>()};
      if (shape.units() > 0) context.ParallelFor(run_attention_unit, static_cast<size_t>(shape.units()), 0, &work);
      return nullptr;
    } catch (const std::exception& e) {
      return Ort::Status(e).release();
    }
  }
};

struct SelfAttentionOp : Ort::CustomOpBase<SelfAttentionOp, SelfAttentionKernel, /*WithStatus=*/true> {
  OrtStatusPtr CreateKernelV2(const OrtApi& /*api*/, const OrtKernelInfo* info, void** kernel) const {
    try {
      const int64_t heads = Ort::ConstKernelInfo(info).GetAttribute<int64_t>("num_heads");
      if (heads <= 0) return Ort::Status("SelfAttention: num_heads must be positive", ORT_INVALID_ARGUMENT).release();
      *kernel = new SelfAttentionKernel{heads};
      return nullptr;
    } catch (const std::exception& e) {
      return Ort::Status(e).release();
    }
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
    try {
      Ort::KernelContext context(raw_context);
      const Ort::ConstValue x = context.GetInput(0);
      const auto info = x.GetTensorTypeAndShapeInfo();
      Ort::UnownedValue y = context.GetOutput(0, info.GetShape());
      GeluWork work{x.GetTensorData<float>(), y.GetTensorMutableData<float>(),
                    static_cast<int64_t>(info.GetElementCount())};
      const size_t chunks = static_cast<size_t>((work.count + kGeluChunk - 1) / kGeluChunk);
      if (chunks > 0) context.ParallelFor(run_gelu_chunk, chunks, 0, &work);
      return nullptr;
    } catch (const std::exception& e) {
      return Ort::Status(e).release();
    }
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

}  // namespace

void add_crossrank_ops(Ort::SessionOptions& options) {
  // Sessions keep pointers to the ops and their domain: all live as long as the process.
  static Ort::CustomOpDomain* domain = [] {
    auto* d = new Ort::CustomOpDomain(kOpDomain);
    d->Add(new SelfAttentionOp());
    d->Add(new GeluOp());
    return d;
  }();
  options.Add(*domain);
}

}  // namespace crossrank
