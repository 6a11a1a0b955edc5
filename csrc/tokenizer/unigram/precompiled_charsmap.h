// SentencePiece's precompiled normalization charsmap (nmt_nfkc and friends), applied as
// `tokenizers`' Precompiled normalizer does: per extended grapheme cluster, a cluster shorter than 6
// bytes is looked up whole, and its SHORTEST prefix found in the charsmap replaces the whole cluster
// (the rest of the cluster is dropped: a quirk of `tokenizers` kept for bit-identical ids); any other
// cluster (or one not found) is looked up code point by code point, each replaced or kept.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crossrank {

class PrecompiledCharsmap {
 public:
  // Parses the blob: a little-endian u32 trie size in bytes, the darts-clone double array (u32
  // units), then the NUL-terminated UTF-8 replacement strings. Throws std::invalid_argument naming
  // what is wrong (too short, trie size out of range or not a multiple of 4, invalid UTF-8).
  explicit PrecompiledCharsmap(std::string_view blob);

  // Appends the normalization of the valid UTF-8 `text` to `out`.
  void normalize(std::string_view text, std::string& out) const;

  // Whether the ASCII character `c` is left as it is (not in the charsmap, or mapped to itself).
  bool keeps_ascii(char c) const {
    const auto b = static_cast<unsigned char>(c);
    return b < 128 && (!ascii_found_[b] || ascii_replacement_[b] == std::string_view(&c, 1));
  }

 private:
  // The replacement of the shortest prefix of `key` in the trie (the key ends at its first NUL
  // byte, as in the Rust crate), or false when no prefix is in it.
  bool lookup(std::string_view key, std::string_view* replacement) const;
  void append_cluster(std::string_view cluster, std::string& out) const;
  void append_by_code_point(std::string_view cluster, std::string& out) const;

  std::vector<uint32_t> units_;
  std::string replacements_;
  // Single-byte (ASCII) keys: whether found, and the replacement (the common case, no trie walk).
  std::array<bool, 128> ascii_found_{};
  std::array<std::string_view, 128> ascii_replacement_{};
};

}  // namespace crossrank
