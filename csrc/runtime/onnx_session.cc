#include "runtime/onnx_session.h"

#include <stdexcept>

#include "runtime/custom_ops.h"
#include "runtime/onnx_runtime.h"

namespace crossrank {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// ONNX Runtime copies nothing: the tensor views the vector (narrowed to int32 if the graph asks).
Ort::Value make_tensor(const std::vector<int64_t>& values, ONNXTensorElementDataType type,
                       const int64_t* shape, std::vector<int32_t>& narrow_storage) {
  static const Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeDefault);
  if (type == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64) {
    return Ort::Value::CreateTensor<int64_t>(memory, const_cast<int64_t*>(values.data()), values.size(),
                                             shape, 2);
  }
  narrow_storage.assign(values.begin(), values.end());
  return Ort::Value::CreateTensor<int32_t>(memory, narrow_storage.data(), narrow_storage.size(), shape, 2);
}

}  // namespace

OnnxSession::OnnxSession(const std::string& model_path, const SessionConfig& config) : path_(model_path) {
  Ort::SessionOptions options;
  if (config.intra_op_threads > 0) options.SetIntraOpNumThreads(config.intra_op_threads);
  options.SetInterOpNumThreads(1);
  options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
  options.AddConfigEntry("optimization.disable_specified_optimizers", kDisabledOptimizers);
  add_crossrank_ops(options);  // engine graphs run their attention core on crossrank's kernel
  if (!config.profile_prefix.empty()) options.EnableProfiling(config.profile_prefix.c_str());
  try {
    session_ = std::make_unique<Ort::Session>(onnxruntime_env(), model_path.c_str(), options);
  } catch (const Ort::Exception& e) {
    throw std::runtime_error("ONNX Runtime cannot load " + model_path + ": " + e.what());
  }

  Ort::AllocatorWithDefaultOptions allocator;
  std::vector<std::string> all_inputs;
  bool has_ids = false, has_mask = false;
  for (size_t i = 0; i < session_->GetInputCount(); ++i) {
    std::string name = session_->GetInputNameAllocated(i, allocator).get();
    all_inputs.push_back(name);
    InputKind kind;
    if (name == "input_ids") {
      kind = InputKind::kInputIds;
      has_ids = true;
    } else if (name == "attention_mask") {
      kind = InputKind::kAttentionMask;
      has_mask = true;
    } else if (name == "token_type_ids") {
      kind = InputKind::kTokenTypeIds;
      has_token_type_ids_ = true;
    } else {
      continue;  // checked below, once all names are known
    }
    auto type = session_->GetInputTypeInfo(i).GetTensorTypeAndShapeInfo().GetElementType();
    if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 && type != ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32) {
      throw std::invalid_argument(model_path + ": input '" + name + "' must be int64 or int32");
    }
    input_names_.push_back(name);
    input_kinds_.push_back(kind);
    input_types_.push_back(type);
  }
  if (!has_ids || !has_mask || input_names_.size() != all_inputs.size()) {
    throw std::invalid_argument(model_path + ": expected inputs input_ids, attention_mask and optionally " +
                                "token_type_ids, found: " + join(all_inputs));
  }

  std::vector<std::string> outputs;
  for (size_t i = 0; i < session_->GetOutputCount(); ++i) {
    outputs.push_back(session_->GetOutputNameAllocated(i, allocator).get());
  }
  size_t output_index = outputs.size();
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i] == "logits") output_index = i;
  }
  if (output_index == outputs.size() && outputs.size() == 1) output_index = 0;
  if (output_index == outputs.size()) {
    throw std::invalid_argument(model_path + ": expected one output or one named 'logits', found: " +
                                join(outputs));
  }
  const Ort::TypeInfo type_info = session_->GetOutputTypeInfo(output_index);  // owns what info views
  const auto info = type_info.GetTensorTypeAndShapeInfo();
  const auto shape = info.GetShape();
  if (info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || shape.size() != 2) {
    throw std::invalid_argument(model_path + ": output '" + outputs[output_index] +
                                "' must be a float tensor [batch, num_labels]");
  }
  output_name_ = outputs[output_index];
  num_labels_ = shape[1];  // -1 when dynamic
}

std::vector<float> OnnxSession::run(const BatchInputs& batch, CancelSource* cancel) const {
  const int64_t shape[2] = {static_cast<int64_t>(batch.batch_size),
                            static_cast<int64_t>(batch.sequence_length)};
  std::vector<Ort::Value> inputs;
  std::vector<const char*> names;
  std::vector<int32_t> narrow[3];
  for (size_t i = 0; i < input_names_.size(); ++i) {
    const std::vector<int64_t>& values = input_kinds_[i] == InputKind::kInputIds        ? batch.input_ids
                                         : input_kinds_[i] == InputKind::kAttentionMask ? batch.attention_mask
                                                                                        : batch.token_type_ids;
    inputs.push_back(make_tensor(values, input_types_[i], shape, narrow[i]));
    names.push_back(input_names_[i].c_str());
  }
  const char* output_name = output_name_.c_str();
  std::vector<Ort::Value> outputs;
  Ort::RunOptions options;
  const CancelSource::Registration registration(cancel, [&options] { options.SetTerminate(); });
  try {
    outputs = session_->Run(options, names.data(), inputs.data(), inputs.size(), &output_name, 1);
  } catch (const Ort::Exception& e) {
    if (cancel != nullptr && cancel->requested()) throw Cancelled();
    throw std::runtime_error("ONNX Runtime failed on " + path_ + ": " + e.what());
  }
  auto info = outputs[0].GetTensorTypeAndShapeInfo();
  auto out_shape = info.GetShape();
  if (out_shape.size() != 2 || out_shape[0] != shape[0]) {
    throw std::runtime_error(path_ + ": unexpected output shape");
  }
  const float* data = outputs[0].GetTensorData<float>();
  return std::vector<float>(data, data + info.GetElementCount());
}

std::string OnnxSession::end_profiling() {
  Ort::AllocatorWithDefaultOptions allocator;
  return session_->EndProfilingAllocated(allocator).get();
}

}  // namespace crossrank
