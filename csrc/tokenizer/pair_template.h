// What every pair tokenizer shares after tokenizing each side: the "[CLS] A [SEP] B [SEP]"
// pair template and the truncation that fits a pair into max_length tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace crossrank {

// Pair template: [CLS] A [SEP] B [SEP]; type ids: CLS, A, first SEP -> type_id_a; B, last SEP -> type_id_b.
struct PairTemplate {
  int32_t cls_id = 101;
  int32_t sep_id = 102;
  int32_t type_id_a = 0;
  int32_t type_id_b = 1;
};

enum class Truncation {
  // Cut the document only; the query stays whole. When the query leaves no room
  // for even one document token, the pair falls back to LongestFirst and
  // PairEncoding::query_truncated is set.
  OnlySecond,
  // Hugging Face's longest_first (what sentence-transformers uses).
  LongestFirst,
};

struct PairEncoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  bool truncated = false;        // some document (or query) tokens were removed
  bool query_truncated = false;  // the query itself lost tokens
};

// Apply the pair template and truncation to already-tokenized sides.
// max_length counts the three special tokens; it must be >= 4 (else
// std::invalid_argument).
PairEncoding build_pair(const PairTemplate& pair_template, const std::vector<int32_t>& query_ids,
                        const std::vector<int32_t>& doc_ids, size_t max_length, Truncation truncation);

}  // namespace crossrank
