// The interface every tokenizer algorithm implements (WordPiece, Unigram, byte-level BPE): encode one
// text to ids, and fit a (query, document) pair into the model's template. The engine holds a
// PairTokenizer and never knows which algorithm it runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/pair_template.h"

namespace crossrank {

class PairTokenizer {
 public:
  // Throws std::invalid_argument for a negative special token id.
  explicit PairTokenizer(PairTemplate pair_template);
  virtual ~PairTokenizer() = default;
  PairTokenizer(const PairTokenizer&) = delete;
  PairTokenizer& operator=(const PairTokenizer&) = delete;

  // Token ids of one text without special tokens. Throws std::invalid_argument on invalid UTF-8.
  // Every method is called from several threads at once: keep scratch thread_local.
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;

  // The first max_tokens ids of encode(text); *cut (when given) says whether the text has more.
  // This default encodes the whole text; an algorithm that can stop early overrides it (a 10 MB
  // document with a 4,096-token cap should cost about what 4,096 tokens cost).
  virtual std::vector<int32_t> encode_prefix(std::string_view text, size_t max_tokens, bool* cut) const;

  // encode() both sides, then build_pair(). Overridable to reuse per-thread buffers.
  virtual PairEncoding encode_pair(std::string_view query, std::string_view doc, size_t max_length,
                                   Truncation truncation) const;

  // Entries of the model's vocabulary (ids 0 .. vocab_size() - 1).
  virtual size_t vocab_size() const = 0;

  // One past the largest id encode() or the template can produce: the vocabulary, added tokens
  // outside it and the special tokens. The engine rejects pre-tokenized ids at or above it.
  virtual int32_t id_limit() const;

  // Apply the pair template and truncation to already-tokenized sides (see build_pair in
  // tokenizer/pair_template.h).
  PairEncoding build_pair(const std::vector<int32_t>& query_ids, const std::vector<int32_t>& doc_ids,
                          size_t max_length, Truncation truncation) const {
    return crossrank::build_pair(pair_template_, query_ids, doc_ids, max_length, truncation);
  }

  const PairTemplate& pair_template() const { return pair_template_; }

 private:
  PairTemplate pair_template_;
};

// Bytes of text the tokenizers have read since the process started, over all algorithms, tokenizers
// and threads: lets tests check that encode_prefix stopped early, independent of timing.
uint64_t tokenized_bytes();

// Adds `bytes` to tokenized_bytes(): every algorithm calls it for each text it starts to read.
void count_tokenized_bytes(size_t bytes);

}  // namespace crossrank
