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
#include "tokenizer/pair_tokenizer.h"

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

// How score_windows cuts each document. Token counts are of the document alone.
struct WindowOptions {
  // false: one pair per document, cut to max_length as score() does (max_tokens_per_doc still
  // applies first); true: the document's ids are cut into overlapping windows, one pair each.
  bool windows = true;
  size_t window = 0;              // document tokens per window; 0 or more than fits: what fits after the query
  size_t stride = 0;              // tokens between window starts; 0: window * 3 / 4; at most the window
  size_t max_windows = 16;        // windows per document at most (>= 1)
  size_t max_tokens_per_doc = 0;  // the document is cut to this many tokens first; 0: no cap
};

// One row of logits per window, and where each document's windows are.
struct WindowedResult {
  ScoreResult scores;                // rows: every window of every document, document by document
  std::vector<size_t> doc_offsets;   // document i's windows are rows [doc_offsets[i], doc_offsets[i + 1])
  std::vector<size_t> spans;         // window r covers document tokens [spans[2r], spans[2r + 1])
  size_t truncated_docs = 0;         // documents with tokens no window saw (any reason)
  size_t capped_docs = 0;            // documents cut by max_tokens_per_doc
  size_t max_windows_docs = 0;       // documents that had more windows than max_windows
};

// The document token spans [begin, end) of the windows over n tokens: starts 0, stride, 2 stride ...
// until a window reaches the end; one (possibly empty) window when n <= window.
std::vector<std::pair<size_t, size_t>> window_spans(size_t n, size_t window, size_t stride);

class Engine {
 public:
  Engine(std::shared_ptr<const PairTokenizer> tokenizer, std::shared_ptr<const OnnxSession> session,
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

  // Scores each document's windows against its query (queries[i], docs[i]) in one call: every
  // window is one more pair for the batch planner, the query is repeated whole in each. Each
  // document is tokenized only as far as max_tokens_per_doc or max_windows windows need.
  WindowedResult score_windows(const std::vector<std::string>& queries, const std::vector<std::string>& docs,
                               const WindowOptions& options, const ProgressCallback& progress = nullptr,
                               CancelSource* cancel = nullptr) const;

  // Scores pairs that are already encoded with the template (ids and type ids).
  ScoreResult score_encoded(const std::vector<PairEncoding>& pairs, const ProgressCallback& progress = nullptr,
                            CancelSource* cancel = nullptr) const;

  const EngineConfig& config() const { return config_; }

 private:
  std::shared_ptr<const PairTokenizer> tokenizer_;
  std::shared_ptr<const OnnxSession> session_;
  EngineConfig config_;
};

}  // namespace crossrank
