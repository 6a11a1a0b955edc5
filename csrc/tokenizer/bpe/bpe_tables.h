// Unicode data of the byte-level BPE tokenizer as Hugging Face `tokenizers` sees it (its regex
// engine's and its NFC's Unicode versions, not Python's). The data in bpe_tables.cc is generated
// by scripts/generate_bpe_tables.py, which probes the library itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace crossrank {
namespace bpe {

// The character classes the GPT-2 pre-tokenizer regex tells apart.
enum class CharClass : uint8_t {
  kOther = 0,   // [^\s\p{L}\p{N}]
  kLetter = 1,  // \p{L}
  kNumber = 2,  // \p{N}
  kSpace = 3,   // \s
};

// Two-level class table: block kClassStage1[cp >> 8], entry (cp & 255) of that block in kClassStage2.
extern const uint8_t kClassStage1[];
extern const uint8_t kClassStage2[];

// Canonical compositions of NFC, sorted by key (first << 21 | second); Hangul syllables excluded
// (composed algorithmically).
extern const uint64_t kCompositionKeys[];
extern const char32_t kCompositions[];
extern const size_t kCompositionCount;

// The class of a valid code point (<= U+10FFFF).
inline CharClass char_class(char32_t cp) {
  return static_cast<CharClass>(kClassStage2[(size_t{kClassStage1[cp >> 8]} << 8) | (cp & 0xFF)]);
}

}  // namespace bpe
}  // namespace crossrank
