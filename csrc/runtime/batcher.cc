#include "runtime/batcher.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace crossrank {

std::vector<Batch> plan_batches(const std::vector<size_t>& lengths, const BatchPolicy& policy) {
  if (policy.max_batch_size == 0 || policy.max_padded_tokens == 0) {
    throw std::invalid_argument("batch policy limits must be positive");
  }
  const size_t n = lengths.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  // Longest first: the first member of each batch fixes its padded length.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });

  // cost[i]: cheapest plan for the first i sorted sequences; start[i]: where its last batch begins.
  // O(n x max_batch_size), a few million steps at most per call.
  std::vector<size_t> cost(n + 1, std::numeric_limits<size_t>::max());
  std::vector<size_t> start(n + 1, 0);
  cost[0] = 0;
  for (size_t end = 1; end <= n; ++end) {
    for (size_t rows = 1; rows <= std::min(end, policy.max_batch_size); ++rows) {
      const size_t first = end - rows;
      const size_t width = lengths[order[first]];
      // Growing the batch backwards only raises rows and width: stop at the budget.
      if (rows > 1 && rows * width > policy.max_padded_tokens) break;
      const size_t candidate = cost[first] + rows * width + policy.batch_overhead_tokens;
      if (candidate < cost[end]) {
        cost[end] = candidate;
        start[end] = first;
      }
    }
  }

  std::vector<Batch> batches;
  for (size_t end = n; end > 0; end = start[end]) {
    Batch batch;
    batch.indices.assign(order.begin() + start[end], order.begin() + end);
    batch.padded_length = lengths[order[start[end]]];
    batches.push_back(std::move(batch));
  }
  std::reverse(batches.begin(), batches.end());
  return batches;
}

}  // namespace crossrank
