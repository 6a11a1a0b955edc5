// Length-bucketed batching: pairs are sorted by token length and cut into batches
// that each pad only to their own longest member.
#pragma once

#include <cstddef>
#include <vector>

namespace crossrank {

struct BatchPolicy {
  // Upper bound on batch_size x longest_length (the tokens a batch executes).
  size_t max_padded_tokens = 16384;
  size_t max_batch_size = 128;
  // Fixed cost of one more batch (one more graph run), in executed-token equivalents:
  // it is what keeps the planner from giving every distinct length its own batch.
  size_t batch_overhead_tokens = 64;  // Reranker's default too
};

struct Batch {
  std::vector<size_t> indices;  // positions in the input, longest first
  size_t padded_length = 0;     // length every member is padded to
};

// Plans batches for sequences of the given lengths: over the lengths sorted longest
// first, picks the cut into contiguous batches that minimises executed tokens
// (padding included) plus batch_overhead_tokens per batch, within the limits.
// Every index appears in exactly one batch; a single sequence longer than the budget
// still gets a batch of its own. Ties are broken by input position: the plan is
// deterministic.
std::vector<Batch> plan_batches(const std::vector<size_t>& lengths, const BatchPolicy& policy);

}  // namespace crossrank
