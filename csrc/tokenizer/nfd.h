// Canonical decomposition (NFD) on code points, with the Unicode data of tokenizer/unicode_tables
// (probed from Hugging Face `tokenizers`): shared by BertNormalizer's strip_accents and the NFC
// normalizer of byte-level BPE (tokenizer/bpe/nfc.cc).
#pragma once

#include <cstdint>
#include <vector>

#include "tokenizer/unicode_tables.h"

namespace crossrank {
namespace nfd {

constexpr char32_t kHangulSBase = 0xAC00;
constexpr char32_t kHangulLBase = 0x1100;
constexpr char32_t kHangulVBase = 0x1161;
constexpr char32_t kHangulTBase = 0x11A7;
constexpr char32_t kHangulLCount = 19;
constexpr char32_t kHangulVCount = 21;
constexpr char32_t kHangulTCount = 28;
constexpr char32_t kHangulNCount = kHangulVCount * kHangulTCount;  // 588
constexpr char32_t kHangulSCount = 11172;

// Canonical combining class.
inline uint8_t ccc(char32_t cp) {
  using namespace unicode;
  if (cp < 256) return (kLatin1Flags[cp] & kFlagNonzeroCcc) ? lookup_ccc(cp) : 0;
  return lookup_ccc(cp);
}

// Appends the full canonical decomposition of cp.
inline void decompose(char32_t cp, std::vector<char32_t>& out) {
  using namespace unicode;
  if (cp < 256) {
    if (!(kLatin1Flags[cp] & kFlagDecomposes)) {
      out.push_back(cp);
      return;
    }
  } else if (cp - kHangulSBase < kHangulSCount) {
    const char32_t s = cp - kHangulSBase;
    out.push_back(kHangulLBase + s / kHangulNCount);
    out.push_back(kHangulVBase + (s % kHangulNCount) / kHangulTCount);
    if (s % kHangulTCount != 0) out.push_back(kHangulTBase + s % kHangulTCount);
    return;
  }
  const Mapping* m = lookup_mapping(kDecomposition, kDecompositionSize, cp);
  if (m == nullptr) {
    out.push_back(cp);
    return;
  }
  out.insert(out.end(), kDecompositionPool + m->offset, kDecompositionPool + m->offset + m->len);
}

// Canonical ordering: stable sort of every run of non-starters by combining class.
inline void canonical_reorder(std::vector<char32_t>& s) {
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

}  // namespace nfd
}  // namespace crossrank
