// Strict UTF-8 decoding / encoding helpers (no allocation beyond the caller's buffers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crossrank {
namespace utf8 {

// Decodes `text` into `out` (appending). Rejects overlong forms, surrogates,
// code points above U+10FFFF and truncated sequences. Returns false on error and
// sets *error_offset to the byte offset of the offending sequence.
inline bool decode(std::string_view text, std::vector<char32_t>& out, size_t* error_offset) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    char32_t cp;
    size_t len;
    char32_t min;
    if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      len = 2;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      len = 3;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      len = 4;
      min = 0x10000;
    } else {
      *error_offset = i;
      return false;
    }
    if (i + len > n) {
      *error_offset = i;
      return false;
    }
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) {
        *error_offset = i;
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      *error_offset = i;
      return false;
    }
    out.push_back(cp);
    i += len;
  }
  return true;
}

// decode(), throwing std::invalid_argument "<what> is not valid UTF-8 (byte N)" on error.
inline void decode_or_throw(std::string_view text, std::vector<char32_t>& out, const std::string& what) {
  size_t bad = 0;
  if (!decode(text, out, &bad)) {
    throw std::invalid_argument(what + " is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  }
}

// decode_or_throw() into a new string (for short texts such as added tokens).
inline std::u32string decode_or_throw(std::string_view text, const std::string& what) {
  std::vector<char32_t> cps;
  decode_or_throw(text, cps, what);
  return std::u32string(cps.begin(), cps.end());
}

// Appends the UTF-8 encoding of a valid code point.
inline void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace utf8
}  // namespace crossrank
