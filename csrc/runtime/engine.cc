#include "runtime/engine.h"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>

namespace crossrank {

Engine::Engine(std::shared_ptr<const PairTokenizer> tokenizer, std::shared_ptr<const OnnxSession> session,
               EngineConfig config)
    : tokenizer_(std::move(tokenizer)), session_(std::move(session)), config_(config) {
  if (!tokenizer_ || !session_) throw std::invalid_argument("engine needs a tokenizer and a session");
  const size_t least = tokenizer_->pair_template().min_max_length();
  if (config_.max_length < least) {
    throw std::invalid_argument("max_length must be at least " + std::to_string(least) + " (" +
                                std::to_string(least - 1) + " special tokens + 1)");
  }
}

ScoreResult Engine::score(const std::vector<std::string>& queries, const std::vector<std::string>& docs,
                          const ProgressCallback& progress, CancelSource* cancel) const {
  if (queries.size() != docs.size()) throw std::invalid_argument("queries and docs differ in length");
  std::vector<PairEncoding> pairs;
  pairs.reserve(queries.size());
  // rank() sends one query with many documents: tokenize each run of equal queries once.
  std::vector<int32_t> query_ids;
  PollClock clock(progress);
  for (size_t i = 0; i < queries.size(); ++i) {
    if (cancel != nullptr) cancel->throw_if_requested();
    clock.tick(0, queries.size());  // Ctrl-C lands between pairs while tokenizing too
    if (i == 0 || queries[i] != queries[i - 1]) query_ids = tokenizer_->encode(queries[i]);
    // Past max(query, budget) + 1 document tokens, the pair is the same whatever follows (both
    // truncations keep at most that many and both see that tokens were cut): stop tokenizing there.
    const size_t needed = std::max(query_ids.size(), config_.max_length - tokenizer_->pair_template().special_count()) + 1;
    pairs.push_back(tokenizer_->build_pair(query_ids, tokenizer_->encode_prefix(docs[i], needed, nullptr),
                                           config_.max_length, config_.truncation));
  }
  return score_encoded(pairs, progress, cancel);
}

ScoreResult Engine::score_ids(const std::vector<std::vector<int32_t>>& query_ids,
                              const std::vector<std::vector<int32_t>>& doc_ids,
                              const ProgressCallback& progress, size_t first_index,
                              CancelSource* cancel) const {
  if (query_ids.size() != doc_ids.size() && query_ids.size() != 1) {
    throw std::invalid_argument("give one query or one query per document");
  }
  const int32_t id_limit = tokenizer_->id_limit();
  std::vector<PairEncoding> pairs;
  pairs.reserve(doc_ids.size());
  PollClock clock(progress);
  for (size_t i = 0; i < doc_ids.size(); ++i) {
    if (cancel != nullptr) cancel->throw_if_requested();
    clock.tick(0, doc_ids.size());
    const std::vector<int32_t>& query = query_ids.size() == 1 ? query_ids[0] : query_ids[i];
    for (const std::vector<int32_t>* side : {&query, &doc_ids[i]}) {
      for (int32_t id : *side) {
        if (id < 0 || id >= id_limit) {
          throw std::invalid_argument("pair " + std::to_string(first_index + i) + ": token id " +
                                      std::to_string(id) + " is outside the vocabulary");
        }
      }
    }
    pairs.push_back(tokenizer_->build_pair(query, doc_ids[i], config_.max_length, config_.truncation));
  }
  return score_encoded(pairs, progress, cancel);
}

namespace {

// Pads one batch's pairs into the model's input tensors (reusing the buffers).
void fill_inputs(const Batch& batch, const std::vector<PairEncoding>& pairs, int64_t pad_id, BatchInputs& inputs) {
  const size_t rows = batch.indices.size();
  const size_t width = batch.padded_length;
  inputs.batch_size = rows;
  inputs.sequence_length = width;
  inputs.input_ids.assign(rows * width, pad_id);
  inputs.attention_mask.assign(rows * width, 0);
  inputs.token_type_ids.assign(rows * width, 0);
  for (size_t r = 0; r < rows; ++r) {
    const PairEncoding& pair = pairs[batch.indices[r]];
    std::copy(pair.ids.begin(), pair.ids.end(), inputs.input_ids.begin() + r * width);
    std::copy(pair.type_ids.begin(), pair.type_ids.end(), inputs.token_type_ids.begin() + r * width);
    std::fill_n(inputs.attention_mask.begin() + r * width, pair.ids.size(), 1);
  }
}

}  // namespace

ScoreResult Engine::score_encoded(const std::vector<PairEncoding>& pairs, const ProgressCallback& progress,
                                  CancelSource* cancel) const {
  ScoreResult result;
  std::vector<size_t> lengths(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    lengths[i] = pairs[i].ids.size();
    result.real_tokens += lengths[i];
    result.truncated_pairs += pairs[i].truncated;
    result.query_truncated_pairs += pairs[i].query_truncated;
  }
  const std::vector<Batch> batches = plan_batches(lengths, config_.batch_policy);
  result.batches = batches.size();
  for (const Batch& batch : batches) result.padded_tokens += batch.indices.size() * batch.padded_length;
  if (batches.empty()) return result;
  CancelSource own;  // stops the workers on an error when the caller gave no source
  CancelSource& stop = cancel != nullptr ? *cancel : own;
  stop.throw_if_requested();

  // Runs one batch on a worker's buffers and scatters its logits to input order; rows of different
  // batches never overlap. The first batch to finish fixes the label count.
  std::once_flag labels_known;
  auto run_batch = [&](const Batch& batch, BatchInputs& inputs) {
    fill_inputs(batch, pairs, config_.pad_id, inputs);
    const std::vector<float> logits = session_->run(inputs, &stop);
    const size_t rows = batch.indices.size();
    const size_t labels = logits.size() / rows;
    if (labels != 0 && labels * rows == logits.size()) {
      std::call_once(labels_known, [&] {
        result.num_labels = labels;
        result.logits.assign(pairs.size() * labels, 0.0f);
      });
    }
    if (labels == 0 || labels * rows != logits.size() || labels != result.num_labels) {
      throw std::runtime_error(session_->path() + ": inconsistent number of output labels");
    }
    for (size_t r = 0; r < rows; ++r) {
      std::copy_n(logits.begin() + r * labels, labels, result.logits.begin() + batch.indices[r] * labels);
    }
    return rows;
  };
  const size_t workers = std::max<size_t>(1, std::min(config_.concurrent_batches, batches.size()));
  std::vector<BatchInputs> inputs(workers);  // each worker's buffers, reused batch to batch
  supervised_for(
      batches.size(), workers, [&](size_t worker, size_t i) { return run_batch(batches[i], inputs[worker]); },
      progress, pairs.size(), stop);
  return result;
}

}  // namespace crossrank
