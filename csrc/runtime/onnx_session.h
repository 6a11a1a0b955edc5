// One ONNX Runtime session for a sequence-classification graph.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <onnxruntime_cxx_api.h>

#include "runtime/cancel.h"

namespace crossrank {

// ONNX Runtime fusions the engine turns off at load, ';'-separated. Their CPU kernels are slower
// than the ops they replace: SkipLayerNormalization ~3x slower than Add + LayerNormalization, and
// BiasGelu slower than Gelu once the bias has moved into the int8 MatMul before it (MiniLM int8,
// one pair per run: 168 ms of BiasGelu became 87 ms of Gelu, the bias add free in the MatMul).
inline constexpr const char* kDisabledOptimizers = "SkipLayerNormFusion;BiasGeluFusion";

struct SessionConfig {
  int intra_op_threads = 0;  // 0: ONNX Runtime's default (one per core)
  std::string profile_prefix;  // non-empty: ONNX Runtime's per-operator profiler writes PREFIX*.json
};

// Padded batch inputs, row-major [batch_size, sequence_length].
struct BatchInputs {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> attention_mask;
  std::vector<int64_t> token_type_ids;
  size_t batch_size = 0;
  size_t sequence_length = 0;
};

class OnnxSession {
 public:
  // Loads the graph and checks its signature: inputs input_ids and attention_mask
  // (token_type_ids optional), integer typed; one float output [batch, labels]
  // (named "logits" when there are several). Throws std::invalid_argument when the
  // graph does not fit, std::runtime_error when ONNX Runtime cannot load it.
  OnnxSession(const std::string& model_path, const SessionConfig& config);

  // Runs one batch; returns logits row-major [batch_size, num_labels()].
  // Safe to call from several threads at once. A request on cancel stops the run between two
  // operators (ONNX Runtime's terminate flag); it then throws Cancelled.
  std::vector<float> run(const BatchInputs& batch, CancelSource* cancel = nullptr) const;

  bool has_token_type_ids() const { return has_token_type_ids_; }
  // -1 when the graph leaves the label axis dynamic (the engine then reads it off each run).
  int64_t num_labels() const { return num_labels_; }
  const std::string& path() const { return path_; }
  // Stops the profiler (SessionConfig::profile_prefix) and returns the JSON file it wrote.
  std::string end_profiling();

 private:
  enum class InputKind { kInputIds, kAttentionMask, kTokenTypeIds };

  std::string path_;
  std::unique_ptr<Ort::Session> session_;
  std::vector<std::string> input_names_;
  std::vector<InputKind> input_kinds_;
  std::vector<ONNXTensorElementDataType> input_types_;
  std::string output_name_;
  bool has_token_type_ids_ = false;
  int64_t num_labels_ = -1;
};

}  // namespace crossrank
