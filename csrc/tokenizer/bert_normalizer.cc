#include "tokenizer/bert_normalizer.h"

#include <cstdint>

#include "tokenizer/nfd.h"
#include "tokenizer/unicode_tables.h"

namespace crossrank {
namespace {

using namespace unicode;

inline bool clean_remove(char32_t cp) {
  return cp < 256 ? (kLatin1Flags[cp] & kFlagCleanRemove) != 0
                  : in_ranges(kCleanRemove, kCleanRemoveSize, cp);
}

inline bool clean_space(char32_t cp) {
  return cp < 256 ? (kLatin1Flags[cp] & kFlagCleanSpace) != 0
                  : in_ranges(kCleanSpace, kCleanSpaceSize, cp);
}

inline bool is_chinese(char32_t cp) {
  return cp >= 0x3400 && in_ranges(kChinese, kChineseSize, cp);
}

inline bool is_nonspacing(char32_t cp) {
  return cp < 256 ? (kLatin1Flags[cp] & kFlagNonspacing) != 0
                  : in_ranges(kNonspacing, kNonspacingSize, cp);
}

// Appends Rust's char::to_lowercase(cp).
inline void lowercase(char32_t cp, std::vector<char32_t>& out) {
  if (cp < 256) {
    out.push_back(kLatin1Lower[cp]);
    return;
  }
  const Mapping* m = lookup_mapping(kLowercase, kLowercaseSize, cp);
  if (m == nullptr) {
    out.push_back(cp);
    return;
  }
  out.insert(out.end(), kLowercasePool + m->offset, kLowercasePool + m->offset + m->len);
}

}  // namespace

void BertNormalizer::normalize(const char32_t* in, size_t n, std::vector<char32_t>& out,
                               std::vector<char32_t>& scratch) const {
  const BertNormalizerOptions& o = options_;
  // Stage 1: clean_text + handle_chinese_chars (per char), then either NFD into
  // `scratch` (strip_accents) or lowercase straight into `out`.
  std::vector<char32_t>& stage = o.strip_accents ? scratch : out;
  if (o.strip_accents) scratch.clear();
  auto emit = [&](char32_t c) {
    if (o.strip_accents) {
      nfd::decompose(c, stage);
    } else if (o.lowercase) {
      lowercase(c, stage);
    } else {
      stage.push_back(c);
    }
  };
  for (size_t i = 0; i < n; ++i) {
    char32_t cp = in[i];
    if (o.clean_text) {
      if (clean_remove(cp)) continue;
      if (clean_space(cp)) cp = U' ';
    }
    if (o.handle_chinese_chars && is_chinese(cp)) {
      emit(U' ');
      emit(cp);
      emit(U' ');
      continue;
    }
    emit(cp);
  }
  if (!o.strip_accents) return;
  // Stage 2: NFD canonical reordering over the whole piece, drop Mn, lowercase.
  nfd::canonical_reorder(scratch);
  for (char32_t c : scratch) {
    if (is_nonspacing(c)) continue;
    if (o.lowercase) {
      lowercase(c, out);
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace crossrank
