// BERT WordPiece pair tokenizer, bit-identical to Hugging Face `tokenizers` for a
// tokenizer.json with BertNormalizer + BertPreTokenizer + WordPiece + the
// "[CLS] A [SEP] B [SEP]" pair template.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/bert_normalizer.h"
#include "tokenizer/pair_template.h"
#include "tokenizer/vocab_map.h"

namespace crossrank {

// An entry of tokenizer.json's "added_tokens", emitted as a single id. Matched
// leftmost-longest in the raw text before normalization (normalized=false), or by its
// normalized content in each normalized piece (normalized=true). lstrip / rstrip
// swallow adjacent whitespace; single_word requires non-alphanumeric neighbours.
// `id` must be the id tokenizers gives the token (a token already in the vocab gets
// its vocab id, whatever tokenizer.json says); the Python loader computes it.
struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

struct TokenizerConfig {
  // BertNormalizer
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // tokenizer.json's null means "same as lowercase"
  bool lowercase = true;
  // WordPiece model: vocab[id] is the token string.
  std::vector<std::string> vocab;
  std::string unk_token = "[UNK]";
  std::string continuing_subword_prefix = "##";
  size_t max_input_chars_per_word = 100;
  std::vector<AddedToken> added_tokens;
  PairTemplate pair_template;
};

class WordPieceTokenizer {
 public:
  // Throws std::invalid_argument for an inconsistent config (unk token not in vocab,
  // duplicate or invalid UTF-8 vocab tokens, empty added token, negative ids).
  explicit WordPieceTokenizer(TokenizerConfig config);

  // Token ids of one text without special tokens. Throws std::invalid_argument
  // on invalid UTF-8.
  std::vector<int32_t> encode(std::string_view text) const;

  // The first max_tokens ids of encode(text), tokenizing only as far as they need: the text is
  // read in pieces that end after an ASCII whitespace byte (BERT tokenization never joins across
  // whitespace, so the ids are those of the whole text), each piece sized to the tokens still
  // missing. *cut is set to whether the text has more than max_tokens tokens. A text without
  // whitespace, or a tokenizer whose added tokens contain whitespace, is encoded whole. Invalid
  // UTF-8 past the cut goes unnoticed (the bindings only pass valid UTF-8).
  std::vector<int32_t> encode_prefix(std::string_view text, size_t max_tokens, bool* cut) const;

  // Apply the pair template and truncation to already-tokenized sides (see build_pair in
  // tokenizer/pair_template.h).
  PairEncoding build_pair(const std::vector<int32_t>& query_ids,
                          const std::vector<int32_t>& doc_ids, size_t max_length,
                          Truncation truncation) const;

  // encode() both sides, then build_pair(). Thread-safe (per-thread scratch buffers).
  PairEncoding encode_pair(std::string_view query, std::string_view doc, size_t max_length,
                           Truncation truncation) const;

  const TokenizerConfig& config() const { return config_; }

 private:
  // An added token as a code point pattern (normalized content for normalized=true).
  struct Pattern {
    std::u32string text;
    int32_t id = 0;
    bool lstrip = false;
    bool rstrip = false;
    bool single_word = false;
  };
  // A piece of text: [begin, end) in code points; id >= 0 for an added token.
  struct Segment {
    size_t begin = 0;
    size_t end = 0;
    int32_t id = -1;
  };
  // Patterns plus a quick "can a match start with this char" filter.
  struct PatternSet {
    std::vector<Pattern> patterns;
    uint64_t ascii_first[2] = {0, 0};  // bit c: some pattern starts with ASCII char c
    bool non_ascii_first = false;      // some pattern starts with a non-ASCII char

    void add(Pattern p);
    bool empty() const { return patterns.empty(); }
    bool may_start(char32_t c) const {
      return c < 128 ? ((ascii_first[c >> 6] >> (c & 63)) & 1) != 0 : non_ascii_first;
    }
  };
  struct Scratch;  // per-thread reusable buffers (wordpiece_tokenizer.cc)

  static Scratch& scratch();
  // Port of tokenizers' AddedVocabulary::find_matches (leftmost-longest, with
  // single_word / lstrip / rstrip), on code points.
  static void find_matches(const PatternSet& set, const char32_t* text, size_t n,
                           std::vector<Segment>& out);
  void encode_into(std::string_view text, std::vector<int32_t>& ids, Scratch& s) const;
  void encode_normalized(const char32_t* text, size_t n, std::vector<int32_t>& ids,
                         Scratch& s) const;
  void encode_words(const char32_t* text, size_t n, std::vector<int32_t>& ids, Scratch& s) const;
  void wordpiece(const char32_t* word, size_t n, std::vector<int32_t>& ids, Scratch& s) const;

  TokenizerConfig config_;
  BertNormalizer normalizer_;
  VocabMap token_to_id_;    // every vocab token
  VocabMap continuation_;   // tokens starting with the continuing-subword prefix, prefix removed
  int32_t unk_id_ = 0;
  PatternSet raw_patterns_;         // normalized=false: matched in the raw text
  PatternSet normalized_patterns_;  // normalized=true: matched in normalized pieces
  bool splits_at_whitespace_ = true;  // no added token contains whitespace: encode_prefix may cut
};

// Bytes of text handed to encode_into since the process started, over all tokenizers and threads:
// lets tests check that encode_prefix stopped early, independent of timing.
uint64_t tokenized_bytes();

}  // namespace crossrank
