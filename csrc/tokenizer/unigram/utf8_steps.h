// Stepping through text already known to be valid UTF-8 (no checks).
#pragma once

#include <cstddef>

namespace crossrank {
namespace utf8_steps {

// Length in bytes of the sequence that starts with `lead`.
inline size_t length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  return 4;
}

// The code point of the `len`-byte sequence at `s`.
inline char32_t decode(const unsigned char* s, size_t len) {
  if (len == 1) return s[0];
  char32_t cp = s[0] & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (s[k] & 0x3F);
  return cp;
}

}  // namespace utf8_steps
}  // namespace crossrank
