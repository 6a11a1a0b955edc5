#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace crossrank {

void AddedTokenPatterns::add(std::u32string text, int32_t id, bool lstrip, bool rstrip, bool single_word) {
  if (text.empty()) throw std::invalid_argument("added token with empty content");
  if (id < 0) throw std::invalid_argument("added token with a negative id (" + std::to_string(id) + ")");
  const char32_t c = text[0];
  if (c < 128) {
    ascii_first_[c >> 6] |= uint64_t{1} << (c & 63);
  } else {
    non_ascii_first_ = true;
  }
  patterns_.push_back(Pattern{std::move(text), id, lstrip, rstrip, single_word});
}

bool AddedTokenPatterns::any_whitespace() const {
  return std::any_of(patterns_.begin(), patterns_.end(), [](const Pattern& p) {
    return std::any_of(p.text.begin(), p.text.end(), [](char32_t c) { return unicode::is_whitespace(c); });
  });
}

void AddedTokenPatterns::find(const char32_t* text, size_t n, std::vector<TextSegment>& out) const {
  out.clear();
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < n) {
    // Leftmost-longest match at or after pos.
    size_t mstart = n;
    const Pattern* best = nullptr;
    for (size_t i = pos; i < n && best == nullptr; ++i) {
      const char32_t c = text[i];
      if (!may_start(c)) continue;
      for (const Pattern& p : patterns_) {
        if (p.text[0] != c || p.text.size() > n - i) continue;
        if (best != nullptr && p.text.size() <= best->text.size()) continue;
        if (std::equal(p.text.begin() + 1, p.text.end(), text + i + 1)) {
          best = &p;
          mstart = i;
        }
      }
    }
    if (best == nullptr) break;
    size_t start = mstart;
    size_t stop = mstart + best->text.size();
    pos = stop;
    if (best->single_word) {
      const bool start_space = start == 0 || !unicode::is_alphanumeric(text[start - 1]);
      const bool stop_space = stop == n || !unicode::is_alphanumeric(text[stop]);
      if (!start_space || !stop_space) continue;
    }
    if (best->lstrip) {
      size_t new_start = start;
      while (new_start > 0 && unicode::is_whitespace(text[new_start - 1])) --new_start;
      start = std::max(new_start, start_offset);
    }
    if (best->rstrip) {
      while (stop < n && unicode::is_whitespace(text[stop])) ++stop;
    }
    if (start_offset < start) out.push_back(TextSegment{start_offset, start, -1});
    out.push_back(TextSegment{start, stop, best->id});
    start_offset = stop;
  }
  if (start_offset < n) out.push_back(TextSegment{start_offset, n, -1});
}

AddedTokenSet build_added_tokens(const std::vector<AddedToken>& tokens, const AddedTokenNormalizer& normalize) {
  AddedTokenSet set;
  for (size_t k = 0; k < tokens.size(); ++k) {
    const AddedToken& token = tokens[k];
    const std::string where = "added token " + std::to_string(k) + " ('" + token.content + "')";
    if (token.content.empty()) throw std::invalid_argument("added token " + std::to_string(k) + " is empty");
    if (token.id < 0) throw std::invalid_argument(where + " has a negative id (" + std::to_string(token.id) + ")");
    std::u32string content = utf8::decode_or_throw(token.content, where);
    set.id_limit = std::max(set.id_limit, token.id + 1);
    if (token.normalized) {
      content = normalize(content);
      if (content.empty()) continue;  // never matches, as in tokenizers
      set.normalized.add(std::move(content), token.id, token.lstrip, token.rstrip, token.single_word);
    } else {
      set.raw.add(std::move(content), token.id, token.lstrip, token.rstrip, token.single_word);
    }
  }
  return set;
}

}  // namespace crossrank
