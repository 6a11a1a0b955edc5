// BertNormalizer of Hugging Face `tokenizers`, on code points:
// clean_text -> handle_chinese_chars -> strip_accents (NFD, drop Mn) -> lowercase.
#pragma once

#include <cstddef>
#include <vector>

namespace crossrank {

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
};

class BertNormalizer {
 public:
  explicit BertNormalizer(BertNormalizerOptions options) : options_(options) {}

  // Appends the normalization of in[0, n) to `out`. `scratch` is a reusable
  // buffer (its contents are clobbered) so that steady-state calls do not allocate.
  void normalize(const char32_t* in, size_t n, std::vector<char32_t>& out,
                 std::vector<char32_t>& scratch) const;

  const BertNormalizerOptions& options() const { return options_; }

 private:
  BertNormalizerOptions options_;
};

}  // namespace crossrank
