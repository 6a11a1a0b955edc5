// GPT-2's byte-level alphabet: every byte value stands for one printable code point, so that a
// byte-level BPE vocabulary is made of visible strings (byte 0x20, the space, is 'Ġ' U+0120).
// Bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other 68, in byte order,
// for U+0100 onwards (tokenizers' bytes_char(), from openai/gpt-2's bytes_to_unicode()).
#pragma once

#include <array>
#include <cstdint>

namespace crossrank {
namespace bpe {

inline constexpr bool byte_is_printable(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// The code point byte b stands for.
inline constexpr std::array<char32_t, 256> byte_to_char_table() {
  std::array<char32_t, 256> table{};
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) table[b] = byte_is_printable(b) ? static_cast<char32_t>(b) : next++;
  return table;
}

inline constexpr std::array<char32_t, 256> kByteToChar = byte_to_char_table();

// The byte code point c stands for, or -1 when c is not in the alphabet.
inline int char_to_byte(char32_t c) {
  if (c < 0x100) return byte_is_printable(static_cast<int>(c)) ? static_cast<int>(c) : -1;
  for (int b = 0; b < 256; ++b) {
    if (kByteToChar[b] == c) return b;
  }
  return -1;
}

}  // namespace bpe
}  // namespace crossrank
