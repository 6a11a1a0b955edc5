#include "tokenizer/bpe/nfc.h"

#include <algorithm>
#include <cstdint>

#include "tokenizer/bpe/bpe_tables.h"
#include "tokenizer/nfd.h"

namespace crossrank {
namespace bpe {
namespace {

using namespace nfd;

// Below U+0300 no character decomposes into something that recomposes differently, and none
// composes with a preceding character: text made of them only is its own NFC.
constexpr char32_t kFirstComposing = 0x300;

// The primary composite of (first, second), or 0.
char32_t compose(char32_t first, char32_t second) {
  if (first - kHangulLBase < kHangulLCount && second - kHangulVBase < kHangulVCount) {
    return kHangulSBase + ((first - kHangulLBase) * kHangulVCount + (second - kHangulVBase)) * kHangulTCount;
  }
  if (first - kHangulSBase < kHangulSCount && (first - kHangulSBase) % kHangulTCount == 0 &&
      second - kHangulTBase - 1 < kHangulTCount - 1) {
    return first + (second - kHangulTBase);
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
  canonical_reorder(scratch);
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
