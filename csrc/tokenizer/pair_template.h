// What every pair tokenizer shares after tokenizing each side: the pair template (BERT's
// "[CLS] A [SEP] B [SEP]", RoBERTa's "<s> A </s></s> B </s>") and the truncation that fits a pair
// into max_length tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace crossrank {

// prefix A middle B suffix. Type ids: prefix, A and middle -> type_id_a; B and suffix -> type_id_b
// (what tokenizers' TemplateProcessing, BertProcessing and RobertaProcessing give a pair).
struct PairTemplate {
  std::vector<int32_t> prefix{101};  // before the query: [CLS]
  std::vector<int32_t> middle{102};  // between query and document: [SEP]
  std::vector<int32_t> suffix{102};  // after the document: [SEP]
  int32_t type_id_a = 0;
  int32_t type_id_b = 1;

  // Special tokens in a pair: what max_length must leave room for.
  size_t special_count() const { return prefix.size() + middle.size() + suffix.size(); }
  // The smallest max_length a pair fits into: the special tokens and one document token.
  size_t min_max_length() const { return special_count() + 1; }
};

enum class Truncation {
  // Cut the document only; the query stays whole. When the query leaves no room for even one
  // document token, the pair falls back to LongestFirst and PairEncoding::query_truncated is set.
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

// Apply the pair template and truncation to already-tokenized sides. max_length counts the special
// tokens; below pair_template.min_max_length() it throws std::invalid_argument.
PairEncoding build_pair(const PairTemplate& pair_template, const std::vector<int32_t>& query_ids,
                        const std::vector<int32_t>& doc_ids, size_t max_length, Truncation truncation);

}  // namespace crossrank
