#include "tokenizer/unigram/precompiled_charsmap.h"

#include <cstring>
#include <stdexcept>

#include "tokenizer/unigram/grapheme.h"
#include "tokenizer/unigram/utf8_steps.h"
#include "tokenizer/utf8.h"

namespace crossrank {
namespace {

// darts-clone unit fields.
inline bool has_leaf(uint32_t unit) { return ((unit >> 8) & 1) != 0; }
inline uint32_t value_of(uint32_t unit) { return unit & ((1u << 31) - 1); }
inline uint32_t label_of(uint32_t unit) { return unit & ((1u << 31) | 0xFF); }
inline size_t offset_of(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }

}  // namespace

PrecompiledCharsmap::PrecompiledCharsmap(std::string_view blob) {
  if (blob.size() < 4) {
    throw std::invalid_argument("precompiled_charsmap: " + std::to_string(blob.size()) +
                                " bytes, fewer than the 4-byte trie size header");
  }
  uint32_t trie_bytes = 0;
  for (int k = 3; k >= 0; --k) trie_bytes = (trie_bytes << 8) | static_cast<unsigned char>(blob[k]);
  if (trie_bytes % 4 != 0 || trie_bytes > blob.size() - 4) {
    throw std::invalid_argument("precompiled_charsmap: trie size " + std::to_string(trie_bytes) +
                                " is not a multiple of 4 within the " +
                                std::to_string(blob.size() - 4) + " bytes after the header");
  }
  units_.resize(trie_bytes / 4);
  for (size_t i = 0; i < units_.size(); ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data() + 4 + 4 * i);
    units_[i] = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
  }
  replacements_.assign(blob.substr(4 + trie_bytes));
  std::vector<char32_t> scratch;
  size_t bad = 0;
  if (!utf8::decode(replacements_, scratch, &bad)) {
    throw std::invalid_argument("precompiled_charsmap: its replacement strings are not valid UTF-8 (byte " +
                                std::to_string(bad) + " of them)");
  }
  for (int c = 1; c < 128; ++c) {
    const char key = static_cast<char>(c);
    ascii_found_[c] = lookup(std::string_view(&key, 1), &ascii_replacement_[c]);
  }
}

bool PrecompiledCharsmap::lookup(std::string_view key, std::string_view* replacement) const {
  if (units_.empty()) return false;
  size_t pos = offset_of(units_[0]);
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return false;
    pos ^= c;
    if (pos >= units_.size()) return false;
    const uint32_t unit = units_[pos];
    if (label_of(unit) != c) return false;
    pos ^= offset_of(unit);
    if (has_leaf(unit)) {
      if (pos >= units_.size()) continue;  // the crate skips a leaf it cannot read
      const size_t begin = value_of(units_[pos]);
      if (begin > replacements_.size() ||
          (begin < replacements_.size() && (static_cast<unsigned char>(replacements_[begin]) & 0xC0) == 0x80)) {
        throw std::invalid_argument("precompiled_charsmap: replacement offset " + std::to_string(begin) +
                                    " is not the start of a character in its " +
                                    std::to_string(replacements_.size()) + "-byte strings");
      }
      const size_t nul = replacements_.find('\0', begin);
      const size_t end = nul == std::string::npos ? replacements_.size() : nul;
      *replacement = std::string_view(replacements_).substr(begin, end - begin);
      return true;
    }
  }
  return false;
}

void PrecompiledCharsmap::normalize(std::string_view text, std::string& out) const {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  grapheme::Segmenter segmenter;
  size_t cluster_begin = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t len = utf8_steps::length(s[i]);
    if (segmenter.boundary_before(utf8_steps::decode(s + i, len)) && i > cluster_begin) {
      append_cluster(text.substr(cluster_begin, i - cluster_begin), out);
      cluster_begin = i;
    }
    i += len;
  }
  if (i > cluster_begin) append_cluster(text.substr(cluster_begin, i - cluster_begin), out);
}

void PrecompiledCharsmap::append_cluster(std::string_view cluster, std::string& out) const {
  const auto first = static_cast<unsigned char>(cluster[0]);
  if (cluster.size() == 1 && first < 128) {
    if (ascii_found_[first]) {
      out.append(ascii_replacement_[first]);
    } else {
      out.push_back(cluster[0]);
    }
    return;
  }
  std::string_view replacement;
  if (cluster.size() < 6 && lookup(cluster, &replacement)) {
    out.append(replacement);
    return;
  }
  append_by_code_point(cluster, out);
}

void PrecompiledCharsmap::append_by_code_point(std::string_view cluster, std::string& out) const {
  size_t i = 0;
  while (i < cluster.size()) {
    const size_t len = utf8_steps::length(static_cast<unsigned char>(cluster[i]));
    const std::string_view part = cluster.substr(i, len);
    std::string_view replacement;
    if (lookup(part, &replacement)) {
      out.append(replacement);
    } else {
      out.append(part);
    }
    i += len;
  }
}

}  // namespace crossrank
