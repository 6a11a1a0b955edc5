// What a SentencePiece-style Unigram tokenizer does to text between added tokens: the normalizer
// Sequence, the Metaspace pre-tokenizer, then the Unigram model on each pre-tokenized piece.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/unigram/metaspace.h"
#include "tokenizer/unigram/spm_normalizer.h"
#include "tokenizer/unigram/unigram_model.h"

namespace crossrank {

class UnigramPipeline {
 public:
  UnigramPipeline(SpmNormalizer normalizer, MetaspaceConfig metaspace, UnigramModel model);

  // Normalizes valid UTF-8 text into `out` (replaced).
  void normalize(std::string_view text, std::string& out) const;

  // Appends the ids of already normalized text: Metaspace, then the model on each piece.
  // `starts_text`: the text begins at offset 0 of the original text (prepend_scheme "first").
  void tokenize_normalized(std::string_view normalized, bool starts_text, std::vector<int32_t>& ids) const;

  // Whether tokenizing a text in two parts cut just before a single U+0020 between two ASCII
  // alphanumerics gives the ids of the whole (normalizer: see SpmNormalizer::cuttable_at_spaces;
  // Metaspace splits there, so no piece spans the cut).
  bool cuttable_at_spaces() const { return normalizer_.cuttable_at_spaces() && metaspace_.split; }

  const UnigramModel& model() const { return model_; }
  const SpmNormalizer& normalizer() const { return normalizer_; }

 private:
  SpmNormalizer normalizer_;
  MetaspaceConfig metaspace_;
  UnigramModel model_;
};

}  // namespace crossrank
