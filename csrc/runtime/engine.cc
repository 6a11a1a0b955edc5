#include "runtime/engine.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace crossrank {

Engine::Engine(std::shared_ptr<const WordPieceTokenizer> tokenizer, std::shared_ptr<const OnnxSession> session,
               EngineConfig config)
    : tokenizer_(std::move(tokenizer)), session_(std::move(session)), config_(config) {
  if (!tokenizer_ || !session_) throw std::invalid_argument("engine needs a tokenizer and a session");
  if (config_.max_length < 4) throw std::invalid_argument("max_length must be at least 4");
}

ScoreResult Engine::score(const std::vector<std::string>& queries, const std::vector<std::string>& docs,
                          const ProgressCallback& progress) const {
  if (queries.size() != docs.size()) throw std::invalid_argument("queries and docs differ in length");
  std::vector<PairEncoding> pairs;
  pairs.reserve(queries.size());
  // rank() sends one query with many documents: tokenize each run of equal queries once.
  std::vector<int32_t> query_ids;
  for (size_t i = 0; i < queries.size(); ++i) {
    if (i == 0 || queries[i] != queries[i - 1]) query_ids = tokenizer_->encode(queries[i]);
    pairs.push_back(tokenizer_->build_pair(query_ids, tokenizer_->encode(docs[i]), config_.max_length,
                                           config_.truncation));
  }
  return score_encoded(pairs, progress);
}

ScoreResult Engine::score_ids(const std::vector<std::vector<int32_t>>& query_ids,
                              const std::vector<std::vector<int32_t>>& doc_ids,
                              const ProgressCallback& progress, size_t first_index) const {
  if (query_ids.size() != doc_ids.size() && query_ids.size() != 1) {
    throw std::invalid_argument("give one query or one query per document");
  }
  int32_t vocab_size = static_cast<int32_t>(tokenizer_->config().vocab.size());
  for (const AddedToken& token : tokenizer_->config().added_tokens) vocab_size = std::max(vocab_size, token.id + 1);
  std::vector<PairEncoding> pairs;
  pairs.reserve(doc_ids.size());
  for (size_t i = 0; i < doc_ids.size(); ++i) {
    const std::vector<int32_t>& query = query_ids.size() == 1 ? query_ids[0] : query_ids[i];
    for (const std::vector<int32_t>* side : {&query, &doc_ids[i]}) {
      for (int32_t id : *side) {
        if (id < 0 || id >= vocab_size) {
          throw std::invalid_argument("pair " + std::to_string(first_index + i) + ": token id " +
                                      std::to_string(id) + " is outside the vocabulary");
        }
      }
    }
    pairs.push_back(tokenizer_->build_pair(query, doc_ids[i], config_.max_length, config_.truncation));
  }
  return score_encoded(pairs, progress);
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

ScoreResult Engine::score_encoded(const std::vector<PairEncoding>& pairs, const ProgressCallback& progress) const {
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

  // Runs one batch and scatters its logits to input order; rows of different batches never overlap.
  auto run_batch = [&](const Batch& batch, BatchInputs& inputs) {
    fill_inputs(batch, pairs, config_.pad_id, inputs);
    const std::vector<float> logits = session_->run(inputs);
    const size_t rows = batch.indices.size();
    const size_t labels = logits.size() / rows;
    if (labels == 0 || labels * rows != logits.size() || (result.num_labels != 0 && labels != result.num_labels)) {
      throw std::runtime_error(session_->path() + ": inconsistent number of output labels");
    }
    if (result.num_labels == 0) {  // first batch, before any worker starts
      result.num_labels = labels;
      result.logits.assign(pairs.size() * labels, 0.0f);
    }
    for (size_t r = 0; r < rows; ++r) {
      std::copy_n(logits.begin() + r * labels, labels, result.logits.begin() + batch.indices[r] * labels);
    }
  };

  // The first batch fixes the label count; then workers take the remaining batches in turn.
  BatchInputs first_inputs;
  run_batch(batches[0], first_inputs);
  std::atomic<size_t> next{1};
  std::atomic<size_t> done{batches[0].indices.size()};
  std::atomic<bool> stop{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  if (progress) progress(done, pairs.size());

  // Only the calling thread reports progress: the callback may take the GIL and raise.
  auto work = [&](bool reports) {
    BatchInputs inputs;
    try {
      for (size_t i = next++; i < batches.size() && !stop; i = next++) {
        run_batch(batches[i], inputs);
        done += batches[i].indices.size();
        if (reports && progress) progress(done, pairs.size());
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      stop = true;
    }
  };
  const size_t workers = std::max<size_t>(1, std::min(config_.concurrent_batches, batches.size() - 1));
  std::vector<std::thread> helpers;
  for (size_t w = 1; w < workers; ++w) helpers.emplace_back(work, false);
  work(true);
  for (std::thread& helper : helpers) helper.join();
  if (error) std::rethrow_exception(error);
  if (progress) progress(pairs.size(), pairs.size());
  return result;
}

}  // namespace crossrank
