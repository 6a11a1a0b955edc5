#include "core/attention_op.h"

#include <string>
#include <vector>

#include "core/self_attention.h"

namespace crossrank {
namespace {

struct Work {
  AttentionShape shape;
  const float* qkv;
  const int32_t* key_lengths;
  float* out;
};

void run_unit(void* data, size_t unit) {
  const Work& work = *static_cast<const Work*>(data);
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
      Work work{shape, qkv.GetTensorData<float>(), lengths.GetTensorData<int32_t>(), out.GetTensorMutableData<float>()};
      if (shape.units() > 0) context.ParallelFor(run_unit, static_cast<size_t>(shape.units()), 0, &work);
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

}  // namespace

void add_crossrank_ops(Ort::SessionOptions& options) {
  // Sessions keep pointers to the op and its domain: both live as long as the process.
  static SelfAttentionOp* op = new SelfAttentionOp();
  static Ort::CustomOpDomain* domain = [] {
    auto* d = new Ort::CustomOpDomain(kOpDomain);
    d->Add(op);
    return d;
  }();
  options.Add(*domain);
}

}  // namespace crossrank
