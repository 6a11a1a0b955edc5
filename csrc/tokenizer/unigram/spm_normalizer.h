// The normalizer Sequence that transformers' SentencePiece converters write into tokenizer.json for
// Unigram models (XLM-RoBERTa, mMiniLMv2, bge-reranker): Precompiled (the nmt_nfkc charsmap),
// Strip, Replace of a literal string, and Replace of a run of spaces (the regex " {2,}").
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/unigram/precompiled_charsmap.h"

namespace crossrank {

struct NormalizerStep {
  enum class Kind {
    kPrecompiled,  // charsmap
    kStrip,        // strip_left / strip_right (Rust char::is_whitespace)
    kReplace,      // every non-overlapping `pattern`, left to right, becomes `content`
    kReplaceSpaceRun,  // every run of at least `min_run` U+0020 spaces becomes `content`
  };
  Kind kind = Kind::kReplace;
  std::shared_ptr<const PrecompiledCharsmap> charsmap;
  bool strip_left = false;
  bool strip_right = false;
  std::string pattern;
  std::string content;
  size_t min_run = 2;
};

class SpmNormalizer {
 public:
  // Throws std::invalid_argument for a Replace with an empty pattern, a space run shorter than 1,
  // or a Precompiled step without its charsmap (naming the step's index).
  explicit SpmNormalizer(std::vector<NormalizerStep> steps);

  // Normalizes valid UTF-8 `text` into `out` (replaced); `scratch` is a caller-owned buffer.
  void normalize(std::string_view text, std::string& out, std::string& scratch) const;

  bool empty() const { return steps_.empty(); }

  // Whether normalizing a text in two parts cut just before a single U+0020 between two ASCII
  // alphanumerics gives the two parts of the whole text's normalization: no step strips on the left,
  // no Replace involves a space, and the charsmap leaves ASCII letters, digits and the space alone.
  bool cuttable_at_spaces() const;

 private:
  void apply(const NormalizerStep& step, std::string_view in, std::string& out) const;

  std::vector<NormalizerStep> steps_;
};

}  // namespace crossrank
