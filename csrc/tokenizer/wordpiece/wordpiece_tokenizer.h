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

#include "tokenizer/added_tokens.h"
#include "tokenizer/bert_normalizer.h"
#include "tokenizer/pair_template.h"
#include "tokenizer/pair_tokenizer.h"
#include "tokenizer/vocab_map.h"

namespace crossrank {

struct WordPieceConfig {
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
  PairTemplate pair_template;  // BERT's [CLS] A [SEP] B [SEP] by default
};

class WordPieceTokenizer final : public PairTokenizer {
 public:
  // Throws std::invalid_argument for an inconsistent config (unk token not in vocab,
  // duplicate or invalid UTF-8 vocab tokens, empty added token, negative ids).
  explicit WordPieceTokenizer(WordPieceConfig config);

  // Token ids of one text without special tokens. Throws std::invalid_argument
  // on invalid UTF-8.
  std::vector<int32_t> encode(std::string_view text) const override;

  // The first max_tokens ids of encode(text), tokenizing only as far as they need: the text is
  // read in pieces that end after an ASCII whitespace byte (BERT tokenization never joins across
  // whitespace, so the ids are those of the whole text), each piece sized to the tokens still
  // missing. *cut is set to whether the text has more than max_tokens tokens. A text without
  // whitespace, or a tokenizer whose added tokens contain whitespace, is encoded whole. Invalid
  // UTF-8 past the cut goes unnoticed (the bindings only pass valid UTF-8).
  std::vector<int32_t> encode_prefix(std::string_view text, size_t max_tokens, bool* cut) const override;

  // encode() both sides into per-thread buffers, then build_pair(). Thread-safe.
  PairEncoding encode_pair(std::string_view query, std::string_view doc, size_t max_length,
                           Truncation truncation) const override;

  size_t vocab_size() const override { return config_.vocab.size(); }
  int32_t id_limit() const override;

  const WordPieceConfig& config() const { return config_; }

 private:
  struct Scratch;  // per-thread reusable buffers (wordpiece_tokenizer.cc)

  static Scratch& scratch();
  void encode_into(std::string_view text, std::vector<int32_t>& ids, Scratch& s) const;
  void encode_normalized(const char32_t* text, size_t n, std::vector<int32_t>& ids,
                         Scratch& s) const;
  void encode_words(const char32_t* text, size_t n, std::vector<int32_t>& ids, Scratch& s) const;
  void wordpiece(const char32_t* word, size_t n, std::vector<int32_t>& ids, Scratch& s) const;

  WordPieceConfig config_;
  BertNormalizer normalizer_;
  VocabMap token_to_id_;    // every vocab token
  VocabMap continuation_;   // tokens starting with the continuing-subword prefix, prefix removed
  int32_t unk_id_ = 0;
  AddedTokenSet added_;  // normalized=true tokens by their content after the BertNormalizer
  bool splits_at_whitespace_ = true;  // no added token contains whitespace: encode_prefix may cut
};

}  // namespace crossrank
