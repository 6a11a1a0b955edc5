// Long documents: each document's token ids cut into overlapping windows, every window scored as
// one more pair of the same engine call.
#include <algorithm>
#include <limits>
#include <stdexcept>

#include "runtime/engine.h"

namespace crossrank {

std::vector<std::pair<size_t, size_t>> window_spans(size_t n, size_t window, size_t stride) {
  if (window == 0 || stride == 0 || stride > window) {
    throw std::invalid_argument("window_spans needs 0 < stride <= window");
  }
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t begin = 0;; begin += stride) {
    spans.emplace_back(begin, std::min(begin + window, n));
    if (begin + window >= n) break;
  }
  return spans;
}

namespace {

// The window and stride for a query of nq tokens: the window shrinks to what fits after the query
// (at least one token), the stride to the window, so that the windows still cover the document.
std::pair<size_t, size_t> fitted_window(const WindowOptions& options, size_t budget, size_t nq) {
  const size_t fit = nq < budget ? budget - nq : 1;
  const size_t window = options.window == 0 ? fit : std::min(options.window, fit);
  const size_t stride = options.stride == 0 ? std::max<size_t>(1, window * 3 / 4) : std::min(options.stride, window);
  return {window, stride};
}

// Tokens max_windows windows cover, saturating instead of overflowing.
size_t covered_tokens(size_t window, size_t stride, size_t max_windows) {
  const size_t limit = std::numeric_limits<size_t>::max() / 2;
  if (max_windows - 1 > (limit - window) / stride) return limit;
  return (max_windows - 1) * stride + window;
}

}  // namespace

WindowedResult Engine::score_windows(const std::vector<std::string>& queries, const std::vector<std::string>& docs,
                                     const WindowOptions& options, const ProgressCallback& progress,
                                     CancelSource* cancel) const {
  if (queries.size() != docs.size()) throw std::invalid_argument("queries and docs differ in length");
  if (options.max_windows == 0) throw std::invalid_argument("max_windows must be at least 1");
  const size_t budget = config_.max_length - tokenizer_->pair_template().special_count();
  const size_t cap = options.max_tokens_per_doc == 0 ? std::numeric_limits<size_t>::max() : options.max_tokens_per_doc;
  WindowedResult result;
  result.doc_offsets.reserve(docs.size() + 1);
  result.doc_offsets.push_back(0);
  std::vector<PairEncoding> pairs;
  std::vector<int32_t> query_ids;
  PollClock clock(progress);
  for (size_t i = 0; i < docs.size(); ++i) {
    if (cancel != nullptr) cancel->throw_if_requested();
    clock.tick(0, docs.size());
    if (i == 0 || queries[i] != queries[i - 1]) query_ids = tokenizer_->encode(queries[i]);
    const auto [window, stride] = fitted_window(options, budget, query_ids.size());
    // What the pairs can use: as in score() without windows, max_windows windows with them.
    const size_t reach = options.windows ? covered_tokens(window, stride, options.max_windows)
                                         : std::max(query_ids.size(), budget) + 1;
    bool cut = false;
    std::vector<int32_t> ids = tokenizer_->encode_prefix(docs[i], std::min(cap, reach), &cut);
    const bool capped = cut && cap <= reach;
    result.capped_docs += capped;
    if (!options.windows) {
      pairs.push_back(tokenizer_->build_pair(query_ids, ids, config_.max_length, config_.truncation));
      result.truncated_docs += capped || pairs.back().truncated;
      result.spans.insert(result.spans.end(), {0, ids.size()});
    } else {
      result.max_windows_docs += cut && !capped;
      bool lost = cut;
      for (const auto& [begin, end] : window_spans(ids.size(), window, stride)) {
        const std::vector<int32_t> part(ids.begin() + begin, ids.begin() + end);
        pairs.push_back(tokenizer_->build_pair(query_ids, part, config_.max_length, config_.truncation));
        lost = lost || pairs.back().truncated;
        result.spans.insert(result.spans.end(), {begin, end});
      }
      result.truncated_docs += lost;
    }
    result.doc_offsets.push_back(pairs.size());
  }
  result.scores = score_encoded(pairs, progress, cancel);
  return result;
}

}  // namespace crossrank
