// The BPE model of Hugging Face `tokenizers` (models/bpe) for byte-level input: a word is the
// bytes of one pre-tokenizer piece, each byte one symbol of GPT-2's byte alphabet (byte_map.h);
// merges apply by rank, lowest first, leftmost first among equal ranks (a port of word.rs's
// merge_all, including how it skips stale queue entries). No dropout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/vocab_map.h"

namespace crossrank {
namespace bpe {

struct BpeModelConfig {
  // tokenizer.json's model.vocab: (token, id) pairs (several tokens may share an id).
  std::vector<std::pair<std::string, int32_t>> vocab;
  // model.merges in rank order; a pair listed twice keeps its last rank, as in tokenizers.
  std::vector<std::pair<std::string, std::string>> merges;
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;  // "" = none
  std::string end_of_word_suffix;         // "" = none
  bool fuse_unk = false;
  // Only where every byte has its symbol (then it never applies): tokenizers would spell a missing
  // symbol's UTF-8 bytes as <0xNN> tokens, which no byte-level vocabulary has.
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class BpeModel {
 public:
  // Throws std::invalid_argument naming the culprit: an invalid id, a merge whose parts or result
  // are not in the vocab, an unk token not in the vocab, or a byte of UTF-8 text that has no
  // symbol in the vocab while there is no unk token (tokenizers would drop it silently) or
  // byte_fallback is set.
  explicit BpeModel(BpeModelConfig config);

  // Appends the ids of one piece of raw (not byte-mapped) bytes; `piece` is not empty.
  void encode_piece(std::string_view piece, std::vector<int32_t>& ids) const;

  size_t vocab_size() const { return vocab_size_; }
  int32_t max_id() const { return max_id_; }

 private:
  struct MergeTable;  // (left id, right id) -> (rank, new id), open addressing (bpe_model.cc)
  struct Scratch;     // per-thread symbols, queue and word cache (bpe_model.cc)

  void merge_word(std::string_view piece, std::vector<int32_t>& ids, Scratch& s) const;
  int32_t symbol_id(unsigned char byte, bool first, bool last) const;

  // Initial symbol of each byte at the word's start / middle / end / alone (differ only with a
  // continuing-subword prefix or end-of-word suffix); -1 where the vocab has none.
  int32_t byte_ids_[4][256];
  std::vector<uint64_t> merge_keys_;     // open addressing; 0 = empty slot
  std::vector<uint64_t> merge_values_;   // rank << 32 | new id
  uint64_t merge_mask_ = 0;
  VocabMap raw_vocab_;  // raw bytes of each token spelled in the byte alphabet (ignore_merges)
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  size_t vocab_size_ = 0;
  int32_t max_id_ = -1;
  uint64_t instance_ = 0;  // tells this model's cache entries from another's on the same thread

};

}  // namespace bpe
}  // namespace crossrank
