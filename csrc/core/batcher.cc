#include "core/batcher.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace crossrank {

std::vector<Batch> plan_batches(const std::vector<size_t>& lengths, const BatchPolicy& policy) {
  if (policy.max_batch_size == 0 || policy.max_padded_tokens == 0) {
    throw std::invalid_argument("batch policy limits must be positive");
  }
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Longest first: the first member of each batch fixes its padded length.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });

  std::vector<Batch> batches;
  for (size_t index : order) {
    if (!batches.empty()) {
      Batch& open = batches.back();
      const size_t grown = open.indices.size() + 1;
      if (grown <= policy.max_batch_size && grown * open.padded_length <= policy.max_padded_tokens) {
        open.indices.push_back(index);
        continue;
      }
    }
    Batch next;
    next.padded_length = lengths[index];
    next.indices.push_back(index);
    batches.push_back(std::move(next));
  }
  return batches;
}

}  // namespace crossrank
