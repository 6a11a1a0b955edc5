// The pre-tokenizer regex of GPT-2 / RoBERTa / GPT-NeoX / ModernBERT (tokenizers' ByteLevel with
// use_regex), as a hand-written matcher on code points:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Alternatives are tried in order at each position (Oniguruma's leftmost-first semantics); the
// pieces cover the whole text. Character classes come from bpe_tables (probed from tokenizers).
#pragma once

#include <cstddef>

namespace crossrank {
namespace bpe {

// The end of the piece that starts at text[begin] (begin < n): the regex's match there.
size_t gpt2_piece_end(const char32_t* text, size_t n, size_t begin);

}  // namespace bpe
}  // namespace crossrank
