// Byte-level BPE pair tokenizer (ModernBERT, GPT-NeoX / OLMo, RoBERTa, GPT-2 vocabularies),
// bit-identical to Hugging Face `tokenizers` for a tokenizer.json with normalizer null or NFC,
// pre-tokenizer ByteLevel, model BPE (no dropout) and a pair template.
//
// The flow is tokenizers' extract_and_normalize + pre_tokenize + tokenize: split the raw text on
// added tokens with normalized=false; NFC each other piece; split that on normalized=true added
// tokens; cut the rest with the GPT-2 regex (gpt2_split.h); BPE each piece's bytes (bpe_model.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe/bpe_model.h"
#include "tokenizer/pair_tokenizer.h"

namespace crossrank {

struct ByteLevelBpeConfig {
  bpe::BpeModelConfig model;
  bool nfc = false;               // normalizer: NFC (true) or none
  bool add_prefix_space = false;  // ByteLevel: a space before each piece that lacks one
  bool use_regex = true;          // ByteLevel: split with the GPT-2 regex
  std::vector<AddedToken> added_tokens;
};

class ByteLevelBpeTokenizer : public PairTokenizer {
 public:
  // Throws std::invalid_argument for an inconsistent config (see BpeModel; empty or invalid
  // UTF-8 added tokens, negative ids).
  ByteLevelBpeTokenizer(ByteLevelBpeConfig config, PairTemplate pair_template);

  std::vector<int32_t> encode(std::string_view text) const override;

  // The first max_tokens ids of encode(text). The text is normalized and split whole, but pieces
  // are merged only until max_tokens + 1 ids are known: every piece's ids follow the previous
  // pieces', so those are the first ids of the whole text.
  std::vector<int32_t> encode_prefix(std::string_view text, size_t max_tokens, bool* cut) const override;

  // One past the largest id of model.vocab (tokenizers' vocab size for a vocab without gaps).
  size_t vocab_size() const override { return static_cast<size_t>(model_.max_id()) + 1; }
  int32_t id_limit() const override;

 private:
  struct Scratch;  // per-thread reusable buffers (bpe_tokenizer.cc)

  static Scratch& scratch();

  // Appends the ids of text until more than `limit` are there.
  void encode_into(std::string_view text, std::vector<int32_t>& ids, size_t limit, Scratch& s) const;
  void encode_normalized(const char32_t* text, size_t n, std::vector<int32_t>& ids, size_t limit, Scratch& s) const;
  void encode_pieces(const char32_t* text, size_t n, std::vector<int32_t>& ids, size_t limit, Scratch& s) const;

  bpe::BpeModel model_;
  bool nfc_;
  bool add_prefix_space_;
  bool use_regex_;
  AddedTokenSet added_;  // normalized=true tokens by their NFC (when the normalizer is NFC)
};

}  // namespace crossrank
