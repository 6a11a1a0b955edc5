// The Unigram model of `tokenizers` (models/unigram, encode_optimized): the best-scoring
// segmentation of a pre-tokenized piece into vocabulary pieces (Viterbi over piece scores), a code
// point no piece starts with becoming an unknown node (score = lowest piece score - 10), adjacent
// unknowns fused into one token, and with byte_fallback an unknown token spelled as <0xXX> pieces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/unigram/piece_trie.h"

namespace crossrank {

struct UnigramVocab {
  std::vector<std::string> pieces;  // pieces[id]
  std::vector<double> scores;       // scores[id]
  int32_t unk_id = -1;              // -1: none (an unknown code point is then an error)
  bool byte_fallback = false;
};

class UnigramModel {
 public:
  // Throws std::invalid_argument for an empty vocabulary, pieces and scores of different lengths,
  // an unk_id out of range, or a piece that is empty or not valid UTF-8 (naming the id).
  explicit UnigramModel(UnigramVocab vocab);

  // Appends the ids of one pre-tokenized piece (valid UTF-8). Throws std::invalid_argument when a
  // code point is unknown and the vocabulary has no unk_id.
  void encode(std::string_view piece, std::vector<int32_t>& ids) const;

  size_t vocab_size() const { return vocab_.pieces.size(); }
  int32_t unk_id() const { return vocab_.unk_id; }

 private:
  // The id a token string gets: its piece, else its <0xXX> bytes (byte_fallback), else unk.
  void append_token(std::string_view token, std::vector<int32_t>& ids) const;
  // encode() without the cache: the best segmentation (Viterbi).
  void segment(std::string_view piece, std::vector<int32_t>& ids) const;

  UnigramVocab vocab_;
  PieceTrie trie_;
  double unk_score_ = 0.0;
  int32_t byte_ids_[256];  // <0xXX> piece ids (-1: missing)
  uint64_t serial_ = 0;    // this model's key in the per-thread PieceCache
};

}  // namespace crossrank
