// Added tokens (tokenizer.json's "added_tokens"): texts emitted as one id each, found in the text before
// the model sees it. Shared by every tokenizer algorithm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace crossrank {

// An entry of tokenizer.json's "added_tokens", emitted as a single id. Matched leftmost-longest in the
// raw text before normalization (normalized=false), or by its normalized content in each normalized
// piece (normalized=true). lstrip / rstrip swallow adjacent whitespace; single_word requires
// non-alphanumeric neighbours. `id` must be the id tokenizers gives the token (a token already in the
// vocab gets its vocab id, whatever tokenizer.json says); the Python loader computes it.
struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// A piece of text: [begin, end) in code points; id >= 0 for an added token, -1 for plain text.
struct TextSegment {
  size_t begin = 0;
  size_t end = 0;
  int32_t id = -1;
};

// A set of added tokens as code point patterns, and tokenizers' AddedVocabulary::find_matches over them.
class AddedTokenPatterns {
 public:
  // Throws std::invalid_argument for empty text or a negative id.
  void add(std::u32string text, int32_t id, bool lstrip, bool rstrip, bool single_word);
  bool empty() const { return patterns_.empty(); }
  // Whether some pattern contains a whitespace code point (unicode::is_whitespace).
  bool any_whitespace() const;

  // Split text[0, n) into plain segments and matches: leftmost-longest (aho-corasick
  // MatchKind::LeftmostLongest), with single_word / lstrip / rstrip as tokenizers applies them.
  void find(const char32_t* text, size_t n, std::vector<TextSegment>& out) const;

 private:
  struct Pattern {
    std::u32string text;
    int32_t id = 0;
    bool lstrip = false;
    bool rstrip = false;
    bool single_word = false;
  };
  bool may_start(char32_t c) const {
    return c < 128 ? ((ascii_first_[c >> 6] >> (c & 63)) & 1) != 0 : non_ascii_first_;
  }

  std::vector<Pattern> patterns_;
  uint64_t ascii_first_[2] = {0, 0};  // bit c: some pattern starts with ASCII char c
  bool non_ascii_first_ = false;      // some pattern starts with a non-ASCII char
};

// A tokenizer's normalizer applied to a normalized=true added token's content (code points in and
// out). May throw std::invalid_argument for content the tokenizer rejects.
using AddedTokenNormalizer = std::function<std::u32string(const std::u32string& content)>;

// A tokenizer's added tokens as the two pattern sets its encode splits on, the same for every algorithm.
struct AddedTokenSet {
  AddedTokenPatterns raw;         // normalized=false: their content, matched in the raw text
  AddedTokenPatterns normalized;  // normalized=true: their normalized content, matched in each normalized piece
  int32_t id_limit = 0;           // one past the largest added token id (0 without added tokens)
};

// Builds the AddedTokenSet of tokenizer.json's added tokens: normalized=true ones go through `normalize`;
// one whose normalized content is empty never matches (as in tokenizers) and is left out. Throws
// std::invalid_argument naming the token (its index and content) for empty content, a negative id or
// invalid UTF-8.
AddedTokenSet build_added_tokens(const std::vector<AddedToken>& tokens, const AddedTokenNormalizer& normalize);

}  // namespace crossrank
