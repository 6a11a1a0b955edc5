#include "tokenizer/pair_template.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace crossrank {

PairEncoding build_pair(const PairTemplate& pair_template, const std::vector<int32_t>& query_ids,
                        const std::vector<int32_t>& doc_ids, size_t max_length, Truncation truncation) {
  if (max_length < pair_template.min_max_length()) {
    throw std::invalid_argument("max_length must be >= " + std::to_string(pair_template.min_max_length()) + " (" +
                                std::to_string(pair_template.special_count()) + " special tokens + 1)");
  }
  const size_t budget = max_length - pair_template.special_count();
  const size_t nq = query_ids.size();
  const size_t nd = doc_ids.size();
  size_t keep_q = nq;
  size_t keep_d = nd;
  if (nq + nd > budget) {
    const size_t to_remove = nq + nd - budget;
    bool longest_first = truncation == Truncation::LongestFirst;
    if (!longest_first) {
      // tokenizers' only_second; where it would fail ("sequence too short"), fall back.
      if (nd > to_remove) {
        keep_d = nd - to_remove;
      } else {
        longest_first = true;
      }
    }
    if (longest_first) {
      // Port of tokenizers' truncate_encodings(LongestFirst) for a pair.
      size_t n1 = nq;
      size_t n2 = nd;
      const bool swap = n1 > n2;
      if (swap) std::swap(n1, n2);
      if (n1 > budget) {
        n2 = n1;
      } else {
        n2 = std::max(n1, budget - n1);
      }
      if (n1 + n2 > budget) {
        n1 = budget / 2;
        n2 = n1 + budget % 2;
      }
      if (swap) std::swap(n1, n2);
      keep_q = std::min(nq, n1);
      keep_d = std::min(nd, n2);
    }
  }
  PairEncoding enc;
  enc.query_truncated = keep_q < nq;
  enc.truncated = enc.query_truncated || keep_d < nd;
  const std::vector<int32_t>& prefix = pair_template.prefix;
  const std::vector<int32_t>& middle = pair_template.middle;
  const std::vector<int32_t>& suffix = pair_template.suffix;
  const size_t total = keep_q + keep_d + pair_template.special_count();
  enc.ids.reserve(total);
  enc.type_ids.reserve(total);
  enc.ids.insert(enc.ids.end(), prefix.begin(), prefix.end());
  enc.ids.insert(enc.ids.end(), query_ids.begin(), query_ids.begin() + keep_q);
  enc.ids.insert(enc.ids.end(), middle.begin(), middle.end());
  enc.type_ids.assign(enc.ids.size(), pair_template.type_id_a);
  enc.ids.insert(enc.ids.end(), doc_ids.begin(), doc_ids.begin() + keep_d);
  enc.ids.insert(enc.ids.end(), suffix.begin(), suffix.end());
  enc.type_ids.resize(total, pair_template.type_id_b);
  return enc;
}

}  // namespace crossrank
