// The scoring hot path: tokenize pairs, plan length-bucketed batches, run them,
// and scatter logits back to input order.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/batcher.h"
#include "runtime/cancel.h"
#include "runtime/onnx_session.h"
#include "runtime/supervised_for.h"
#include "tokenizer/wordpiece/wordpiece_tokenizer.h"

namespace crossrank {

struct EngineConfig {
  size_t max_length = 512;  // tokens per pair, special tokens included
  Truncation truncation = Truncation::OnlySecond;
  BatchPolicy batch_policy;
  int64_t pad_id = 0;
  // Batches run at once, each on its own thread. On small CPUs, single-threaded runs side by
  // side beat one run spread over all cores (MiniLM int8, 2 cores: 0.50 s vs 0.64 s per 100 pairs).
  size_t concurrent_batches = 1;
};

struct ScoreResult {
  std::vector<float> logits;  // row-major [pairs, num_labels], input order
  size_t num_labels = 0;
  size_t truncated_pairs = 0;        // pairs that lost tokens
  size_t query_truncated_pairs = 0;  // pairs whose query itself was cut
  size_t real_tokens = 0;            // tokens of all pairs, special tokens included
  size_t padded_tokens = 0;          // tokens executed, padding included
  size_t batches = 0;
};

class Engine {
 public:
  Engine(std::shared_ptr<const WordPieceTokenizer> tokenizer, std::shared_ptr<const OnnxSession> session,
         EngineConfig config);

  // Scores pairs (queries[i], docs[i]). Thread-safe. The progress callback is only ever called
  // from the calling thread, about every kPollInterval and at the end; it may throw to stop the
  // call (Ctrl-C). cancel, when given, stops the call from any thread: it throws Cancelled. The
  // batches run on worker threads while the calling thread polls.
  ScoreResult score(const std::vector<std::string>& queries, const std::vector<std::string>& docs,
                    const ProgressCallback& progress = nullptr, CancelSource* cancel = nullptr) const;

  // Scores pairs given as token ids without special tokens (documents tokenized ahead of
  // time, e.g. at index time). One query may stand for all documents (broadcast).
  // first_index: index of the first pair in the caller's list, for the pair an error names.
  ScoreResult score_ids(const std::vector<std::vector<int32_t>>& query_ids,
                        const std::vector<std::vector<int32_t>>& doc_ids,
                        const ProgressCallback& progress = nullptr, size_t first_index = 0,
                        CancelSource* cancel = nullptr) const;

  // Scores pairs that are already encoded with the template (ids and type ids).
  ScoreResult score_encoded(const std::vector<PairEncoding>& pairs, const ProgressCallback& progress = nullptr,
                            CancelSource* cancel = nullptr) const;

  const EngineConfig& config() const { return config_; }

 private:
  std::shared_ptr<const WordPieceTokenizer> tokenizer_;
  std::shared_ptr<const OnnxSession> session_;
  EngineConfig config_;
};

}  // namespace crossrank
