#include "tokenizer/unigram/grapheme.h"

namespace crossrank {
namespace grapheme {

uint8_t properties(char32_t cp) {
  if (cp >= 0x20 && cp < 0x7F) return 0;  // printable ASCII: Other, no flags
  size_t lo = 0, hi = kPropertiesSize;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (kProperties[mid].hi < cp) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return (lo < kPropertiesSize && kProperties[lo].lo <= cp) ? kProperties[lo].value : 0;
}

bool Segmenter::boundary_before(char32_t cp) {
  const uint8_t next = properties(cp);
  const bool boundary = !started_ || breaks(prev_, next);
  started_ = true;
  advance(next);
  prev_ = next;
  return boundary;
}

bool Segmenter::breaks(uint8_t prev, uint8_t next) const {
  const uint8_t a = prev & kBreakMask;
  const uint8_t b = next & kBreakMask;
  if (a == kCR && b == kLF) return false;                                        // GB3
  if (a == kCR || a == kLF || a == kControl) return true;                        // GB4
  if (b == kCR || b == kLF || b == kControl) return true;                        // GB5
  if (a == kL && (b == kL || b == kV || b == kLV || b == kLVT)) return false;    // GB6
  if ((a == kLV || a == kV) && (b == kV || b == kT)) return false;               // GB7
  if ((a == kLVT || a == kT) && b == kT) return false;                           // GB8
  if (b == kExtend || b == kZWJ || b == kSpacingMark) return false;              // GB9, GB9a
  if (a == kPrepend) return false;                                               // GB9b
  if (conjunct_ == 2 && (next >> kIncbShift) == kIncbConsonant) return false;    // GB9c
  if (emoji_ == 2 && (next & kExtendedPictographic)) return false;               // GB11
  if (a == kRegionalIndicator && b == kRegionalIndicator && regional_ % 2 == 1) return false;  // GB12/13
  return true;                                                                   // GB999
}

void Segmenter::advance(uint8_t next) {
  const uint8_t b = next & kBreakMask;
  const uint8_t incb = next >> kIncbShift;
  if (next & kExtendedPictographic) {
    emoji_ = 1;
  } else if (emoji_ == 1 && b == kExtend) {
    emoji_ = 1;
  } else if (emoji_ == 1 && b == kZWJ) {
    emoji_ = 2;
  } else {
    emoji_ = 0;
  }
  if (incb == kIncbConsonant) {
    conjunct_ = 1;
  } else if (conjunct_ != 0 && incb == kIncbLinker) {
    conjunct_ = 2;
  } else if (conjunct_ != 0 && incb == kIncbExtend) {
    // stays
  } else {
    conjunct_ = 0;
  }
  regional_ = (b == kRegionalIndicator) ? regional_ + 1 : 0;
}

}  // namespace grapheme
}  // namespace crossrank
