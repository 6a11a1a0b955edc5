#include "tokenizer/bpe/nfc.h"

#include <algorithm>
#include <cstdint>

#include "tokenizer/bpe/bpe_tables.h"
#include "tokenizer/unicode_tables.h"

namespace crossrank {
namespace bpe {
namespace {

constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount;
constexpr char32_t kSCount = kLCount * kNCount;
// Below U+0300 no character decomposes into something that recomposes differently, and none
// composes with a preceding character: text made of them only is its own NFC.
constexpr char32_t kFirstComposing = 0x300;

inline uint8_t ccc(char32_t cp) {
  if (cp < 256) return 0;
  return unicode::lookup_ccc(cp);
}

// Appends the full canonical decomposition of cp.
void decompose(char32_t cp, std::vector<char32_t>& out) {
  if (cp - kSBase < kSCount) {
    const char32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (cp < 256 && !(unicode::kLatin1Flags[cp] & unicode::kFlagDecomposes)) {
    out.push_back(cp);
    return;
  }
  const unicode::Mapping* m = unicode::lookup_mapping(unicode::kDecomposition, unicode::kDecompositionSize, cp);
  if (m == nullptr) {
    out.push_back(cp);
    return;
  }
  const char32_t* begin = unicode::kDecompositionPool + m->offset;
  out.insert(out.end(), begin, begin + m->len);
}

// Stable sort of every run of non-starters by combining class.
void reorder(std::vector<char32_t>& s) {
  for (size_t i = 1; i < s.size(); ++i) {
    const char32_t x = s[i];
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

// The primary composite of (first, second), or 0.
char32_t compose(char32_t first, char32_t second) {
  if (first - kLBase < kLCount && second - kVBase < kVCount) {
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  }
  if (first - kSBase < kSCount && (first - kSBase) % kTCount == 0 && second - kTBase - 1 < kTCount - 1) {
    return first + (second - kTBase);
  }
  const uint64_t key = (static_cast<uint64_t>(first) << 21) | second;
  const uint64_t* end = kCompositionKeys + kCompositionCount;
  const uint64_t* it = std::lower_bound(kCompositionKeys, end, key);
  return (it != end && *it == key) ? kCompositions[it - kCompositionKeys] : 0;
}

}  // namespace

void nfc(const char32_t* in, size_t n, std::vector<char32_t>& out, std::vector<char32_t>& scratch) {
  if (std::all_of(in, in + n, [](char32_t c) { return c < kFirstComposing; })) {
    out.insert(out.end(), in, in + n);
    return;
  }
  scratch.clear();
  for (size_t i = 0; i < n; ++i) decompose(in[i], scratch);
  reorder(scratch);
  // Canonical composition: a character joins the last starter unless a character between them
  // has combining class 0 or >= its own (it is blocked).
  size_t starter = SIZE_MAX;  // index in out of the last starter
  uint8_t last_ccc = 0;       // class of the last character appended after it
  for (char32_t c : scratch) {
    const uint8_t cc = ccc(c);
    if (starter != SIZE_MAX) {
      const bool adjacent = out.size() - 1 == starter;
      if (adjacent || (last_ccc != 0 && last_ccc < cc)) {
        if (const char32_t composite = compose(out[starter], c)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (cc == 0) starter = out.size();
    last_ccc = cc;
    out.push_back(c);
  }
}

}  // namespace bpe
}  // namespace crossrank
