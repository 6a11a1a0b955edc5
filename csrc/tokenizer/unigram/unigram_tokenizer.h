// A SentencePiece Unigram pair tokenizer (XLM-RoBERTa, mMiniLMv2, bge-reranker), bit-identical to
// Hugging Face `tokenizers` for the tokenizer.json transformers' converters write: added tokens split
// off first (normalized=false ones in the raw text, normalized=true ones in each normalized piece),
// then UnigramPipeline (normalizer Sequence, Metaspace, Unigram model) on the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/pair_tokenizer.h"
#include "tokenizer/unigram/unigram_pipeline.h"

namespace crossrank {

class UnigramTokenizer : public PairTokenizer {
 public:
  // Throws std::invalid_argument for an added token with empty content or a negative id.
  UnigramTokenizer(PairTemplate pair_template, UnigramPipeline pipeline, const std::vector<AddedToken>& added);

  // Ids of one text without special tokens; std::invalid_argument on invalid UTF-8.
  std::vector<int32_t> encode(std::string_view text) const override;

  // The first max_tokens ids of encode(text), tokenizing only as far as they need: the text is read
  // in parts cut before a single space between ASCII letters or digits (where Metaspace splits, so
  // the ids are those of the whole text), each part sized to the tokens still missing. *cut: the text
  // has more than max_tokens tokens. Encodes whole when the configuration does not allow such cuts
  // (UnigramPipeline::cuttable_at_spaces, or an added token with a space, or one that strips a space
  // next to a letter or digit). Invalid UTF-8 past the cut goes unnoticed.
  std::vector<int32_t> encode_prefix(std::string_view text, size_t max_tokens, bool* cut) const override;

  size_t vocab_size() const override { return pipeline_.model().vocab_size(); }
  int32_t id_limit() const override;

 private:
  struct Scratch;  // per-thread reusable buffers (unigram_tokenizer.cc): encoding allocates no text copies

  static Scratch& scratch();

  // Appends the ids of text (added tokens, then the pipeline); `at_start`: the text begins the
  // original text. std::invalid_argument on invalid UTF-8.
  void encode_into(std::string_view text, bool at_start, std::vector<int32_t>& ids, Scratch& s) const;
  // Normalizes one piece of raw text (between normalized=false added tokens) and appends its ids.
  void encode_piece(std::string_view piece, bool starts_text, std::vector<int32_t>& ids, Scratch& s) const;

  UnigramPipeline pipeline_;
  AddedTokenSet added_;   // normalized=true tokens by their content after the pipeline's normalizer
  bool cuttable_ = false;  // encode_prefix may cut the text at spaces
};

}  // namespace crossrank
