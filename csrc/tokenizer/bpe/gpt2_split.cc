#include "tokenizer/bpe/gpt2_split.h"

#include "tokenizer/bpe/bpe_tables.h"

namespace crossrank {
namespace bpe {
namespace {

// ASCII fast path of char_class.
constexpr CharClass ascii_class(char32_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CharClass::kLetter;
  if (c >= '0' && c <= '9') return CharClass::kNumber;
  if (c == ' ' || (c >= '\t' && c <= '\r')) return CharClass::kSpace;
  return CharClass::kOther;
}

inline CharClass class_of(char32_t c) { return c < 0x80 ? ascii_class(c) : char_class(c); }

// Length of the contraction ('s 't 're 've 'm 'll 'd) at text[i], or 0.
size_t contraction(const char32_t* text, size_t n, size_t i) {
  if (text[i] != U'\'' || i + 1 >= n) return 0;
  const char32_t a = text[i + 1];
  if (a == U's' || a == U't' || a == U'm' || a == U'd') return 2;
  if (i + 2 >= n) return 0;
  const char32_t b = text[i + 2];
  if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
  return 0;
}

// End of the run of characters of class `cls` starting at i.
size_t run_end(const char32_t* text, size_t n, size_t i, CharClass cls) {
  while (i < n && class_of(text[i]) == cls) ++i;
  return i;
}

}  // namespace

size_t gpt2_piece_end(const char32_t* text, size_t n, size_t begin) {
  if (const size_t len = contraction(text, n, begin)) return begin + len;
  // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional U+0020, then a run of one class.
  size_t start = begin;
  if (text[start] == U' ' && start + 1 < n && class_of(text[start + 1]) != CharClass::kSpace) ++start;
  const CharClass cls = class_of(text[start]);
  if (cls != CharClass::kSpace) return run_end(text, n, start, cls);
  // '\s+(?!\S)': the whitespace run, less its last character when a non-space follows it (that
  // character then starts the next piece); '\s+' where that would leave nothing.
  const size_t end = run_end(text, n, begin, CharClass::kSpace);
  if (end == n || end - begin == 1) return end;
  return end - 1;
}

}  // namespace bpe
}  // namespace crossrank
