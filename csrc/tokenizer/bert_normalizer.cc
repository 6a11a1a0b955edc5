#include "tokenizer/bert_normalizer.h"

#include <cstdint>

#include "tokenizer/unicode_tables.h"

namespace crossrank {
namespace {

using namespace unicode;

constexpr char32_t kHangulSBase = 0xAC00;
constexpr char32_t kHangulSCount = 11172;

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

inline uint8_t ccc(char32_t cp) {
  if (cp < 256) return (kLatin1Flags[cp] & kFlagNonzeroCcc) ? lookup_ccc(cp) : 0;
  return lookup_ccc(cp);
}

// Appends the full canonical decomposition of cp.
inline void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp < 256) {
    if (!(kLatin1Flags[cp] & kFlagDecomposes)) {
      out.push_back(cp);
      return;
    }
  } else if (cp - kHangulSBase < kHangulSCount) {
    const char32_t s = cp - kHangulSBase;
    out.push_back(0x1100 + s / 588);
    out.push_back(0x1161 + (s % 588) / 28);
    if (s % 28 != 0) out.push_back(0x11A7 + s % 28);
    return;
  }
  const Mapping* m = lookup_mapping(kDecomposition, kDecompositionSize, cp);
  if (m == nullptr) {
    out.push_back(cp);
    return;
  }
  out.insert(out.end(), kDecompositionPool + m->offset, kDecompositionPool + m->offset + m->len);
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

// Canonical ordering: stable sort of every run of non-starters by ccc.
void canonical_reorder(std::vector<char32_t>& s) {
  const size_t n = s.size();
  for (size_t i = 1; i < n; ++i) {
    const char32_t x = s[i];
    if (x < 0x300) continue;  // ASCII / Latin-1 and below U+0300 are starters
    const uint8_t c = ccc(x);
    if (c == 0) continue;
    size_t j = i;
    while (j > 0 && ccc(s[j - 1]) > c) {
      s[j] = s[j - 1];
      --j;
    }
    s[j] = x;
  }
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
      decompose(c, stage);
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
  canonical_reorder(scratch);
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
