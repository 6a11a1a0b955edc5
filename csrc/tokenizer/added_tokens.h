// Added tokens (tokenizer.json's "added_tokens"): texts emitted as one id each, found in the text before
// the model sees it. Shared by every tokenizer algorithm.
#pragma once

#include <cstddef>
#include <cstdint>
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

}  // namespace crossrank
