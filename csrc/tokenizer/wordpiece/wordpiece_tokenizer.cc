#include "tokenizer/wordpiece/wordpiece_tokenizer.h"

#include <algorithm>
#include <stdexcept>

#include "tokenizer/unicode_tables.h"
#include "tokenizer/utf8.h"

namespace crossrank {

struct WordPieceTokenizer::Scratch {
  std::vector<char32_t> text;        // decoded input
  std::vector<char32_t> normalized;  // normalized piece
  std::vector<char32_t> nfd;         // normalizer scratch
  std::vector<TextSegment> raw_segments;
  std::vector<TextSegment> normalized_segments;
  std::string word;                  // UTF-8 bytes of the current word
  std::vector<uint32_t> bounds;      // byte offset of each char of the word (+ end)
  std::vector<int32_t> query_ids;
  std::vector<int32_t> doc_ids;

  void trim();  // free buffers grown past ~1M elements
};

WordPieceTokenizer::Scratch& WordPieceTokenizer::scratch() {
  thread_local Scratch s;
  return s;
}

namespace {

// Bytes per token encode_prefix reads ahead: English WordPiece averages ~4-5 bytes per token, so
// one piece usually suffices and rarely overshoots by more than a few hundred tokens.
constexpr size_t kPrefixBytesPerToken = 6;
constexpr size_t kPrefixMinPieceBytes = 256;

// Where the piece of text starting at `begin` ends: just after the first space, tab, newline or
// carriage return at or past begin + want (the text's end when there is none). Only these four:
// they survive clean_text as whitespace, while other ASCII whitespace (\v, \f) is a control
// character that clean_text deletes, joining its neighbours. ASCII bytes never occur inside a
// multi-byte UTF-8 sequence, so the cut never splits a character.
size_t piece_end(std::string_view text, size_t begin, size_t want) {
  if (want >= text.size() - begin) return text.size();
  for (size_t i = begin + want; i < text.size(); ++i) {
    const char byte = text[i];
    if (byte == ' ' || byte == '\n' || byte == '\t' || byte == '\r') return i + 1;
  }
  return text.size();
}

// After a huge text, give the per-thread buffers' memory back.
template <typename T>
void release_if_huge(std::vector<T>& v) {
  constexpr size_t kKeep = size_t{1} << 20;
  if (v.capacity() > kKeep) std::vector<T>().swap(v);
}

// Whether some added token's content contains a whitespace code point (valid UTF-8 content).
bool any_whitespace(const std::vector<AddedToken>& tokens) {
  std::vector<char32_t> cps;
  for (const AddedToken& token : tokens) {
    cps.clear();
    utf8::decode_or_throw(token.content, cps, "added token");
    if (std::any_of(cps.begin(), cps.end(), unicode::is_whitespace)) return true;
  }
  return false;
}

BertNormalizerOptions normalizer_options(const WordPieceConfig& c) {
  BertNormalizerOptions o;
  o.clean_text = c.clean_text;
  o.handle_chinese_chars = c.handle_chinese_chars;
  o.strip_accents = c.strip_accents;
  o.lowercase = c.lowercase;
  return o;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(WordPieceConfig config)
    : PairTokenizer(config.pair_template), config_(std::move(config)), normalizer_(normalizer_options(config_)) {
  if (config_.vocab.empty()) throw std::invalid_argument("tokenizer vocab is empty");
  if (config_.vocab.size() > static_cast<size_t>(INT32_MAX)) throw std::invalid_argument("vocab too large");
  const std::string& prefix = config_.continuing_subword_prefix;
  for (size_t i = 0; i < config_.vocab.size(); ++i) {
    const std::string& token = config_.vocab[i];
    std::vector<char32_t> unused;
    size_t bad = 0;
    if (!utf8::decode(token, unused, &bad)) {
      throw std::invalid_argument("vocab token " + std::to_string(i) + " is not valid UTF-8");
    }
    if (!token_to_id_.insert(token, static_cast<int32_t>(i))) {
      throw std::invalid_argument("duplicate vocab token '" + token + "' (id " + std::to_string(i) + ")");
    }
    if (token.size() >= prefix.size() && token.compare(0, prefix.size(), prefix) == 0) {
      continuation_.insert(std::string_view(token).substr(prefix.size()), static_cast<int32_t>(i));
    }
  }
  unk_id_ = token_to_id_.find(config_.unk_token);
  if (unk_id_ < 0) throw std::invalid_argument("unk token '" + config_.unk_token + "' is not in the vocab");

  added_ = build_added_tokens(config_.added_tokens, [this](const std::u32string& content) {
    std::vector<char32_t> normalized, scratch_buffer;
    normalizer_.normalize(content.data(), content.size(), normalized, scratch_buffer);
    if (normalized.empty()) {
      std::string text;
      for (const char32_t c : content) utf8::append(text, c);
      throw std::invalid_argument("added token '" + text + "' normalizes to an empty string");
    }
    return std::u32string(normalized.begin(), normalized.end());
  });
  // Raw contents too: whitespace that normalizes away still joins words in encode_prefix's pieces.
  splits_at_whitespace_ = !added_.normalized.any_whitespace() && !any_whitespace(config_.added_tokens);
}

int32_t WordPieceTokenizer::id_limit() const { return std::max(PairTokenizer::id_limit(), added_.id_limit); }

void WordPieceTokenizer::wordpiece(const char32_t* word, size_t n, std::vector<int32_t>& ids,
                                   Scratch& s) const {
  if (n > config_.max_input_chars_per_word) {
    ids.push_back(unk_id_);
    return;
  }
  s.word.clear();
  s.bounds.clear();
  for (size_t i = 0; i < n; ++i) {
    s.bounds.push_back(static_cast<uint32_t>(s.word.size()));
    utf8::append(s.word, word[i]);
  }
  s.bounds.push_back(static_cast<uint32_t>(s.word.size()));
  const std::string_view bytes(s.word);
  const size_t first = ids.size();
  size_t start = 0;
  while (start < n) {
    const VocabMap& map = start == 0 ? token_to_id_ : continuation_;
    const size_t max_bytes = map.max_key_bytes();
    size_t end = n;
    // Longer candidates than any vocab entry cannot match: skip their lookups.
    while (end > start && s.bounds[end] - s.bounds[start] > max_bytes) --end;
    int32_t id = -1;
    for (; end > start; --end) {
      id = map.find(bytes.substr(s.bounds[start], s.bounds[end] - s.bounds[start]));
      if (id >= 0) break;
    }
    if (id < 0) {
      ids.resize(first);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(id);
    start = end;
  }
}

void WordPieceTokenizer::encode_words(const char32_t* text, size_t n, std::vector<int32_t>& ids,
                                      Scratch& s) const {
  // BertPreTokenizer: whitespace separates (and is dropped), punctuation is isolated.
  size_t word_start = 0;
  bool in_word = false;
  for (size_t i = 0; i < n; ++i) {
    const char32_t c = text[i];
    const bool ws = unicode::is_whitespace(c);
    if (ws || unicode::is_punctuation(c)) {
      if (in_word) {
        wordpiece(text + word_start, i - word_start, ids, s);
        in_word = false;
      }
      if (!ws) wordpiece(text + i, 1, ids, s);
    } else if (!in_word) {
      word_start = i;
      in_word = true;
    }
  }
  if (in_word) wordpiece(text + word_start, n - word_start, ids, s);
}

void WordPieceTokenizer::encode_normalized(const char32_t* text, size_t n, std::vector<int32_t>& ids,
                                           Scratch& s) const {
  s.normalized.clear();
  normalizer_.normalize(text, n, s.normalized, s.nfd);
  const char32_t* norm = s.normalized.data();
  const size_t len = s.normalized.size();
  if (added_.normalized.empty()) {
    encode_words(norm, len, ids, s);
    return;
  }
  added_.normalized.find(norm, len, s.normalized_segments);
  for (const TextSegment& seg : s.normalized_segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
    } else {
      encode_words(norm + seg.begin, seg.end - seg.begin, ids, s);
    }
  }
}

void WordPieceTokenizer::encode_into(std::string_view text, std::vector<int32_t>& ids, Scratch& s) const {
  count_tokenized_bytes(text.size());
  s.text.clear();
  size_t bad = 0;
  if (!utf8::decode(text, s.text, &bad)) {
    throw std::invalid_argument("text is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  }
  const char32_t* cps = s.text.data();
  const size_t n = s.text.size();
  if (added_.raw.empty()) {
    encode_normalized(cps, n, ids, s);
    return;
  }
  added_.raw.find(cps, n, s.raw_segments);
  for (const TextSegment& seg : s.raw_segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
    } else {
      encode_normalized(cps + seg.begin, seg.end - seg.begin, ids, s);
    }
  }
}

void WordPieceTokenizer::Scratch::trim() {
  release_if_huge(text);
  release_if_huge(normalized);
  release_if_huge(nfd);
  release_if_huge(query_ids);
  release_if_huge(doc_ids);
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  Scratch& s = scratch();
  encode_into(text, ids, s);
  s.trim();
  return ids;
}

std::vector<int32_t> WordPieceTokenizer::encode_prefix(std::string_view text, size_t max_tokens, bool* cut) const {
  std::vector<int32_t> ids;
  Scratch& s = scratch();
  size_t begin = 0;
  while (begin < text.size() && ids.size() <= max_tokens) {
    const size_t missing = max_tokens + 1 - ids.size();  // one more than kept: tells whether it is cut
    const size_t want = splits_at_whitespace_ ? std::max(kPrefixMinPieceBytes, missing * kPrefixBytesPerToken)
                                              : text.size() - begin;
    const size_t end = piece_end(text, begin, want);
    encode_into(text.substr(begin, end - begin), ids, s);
    begin = end;
  }
  s.trim();
  if (cut != nullptr) *cut = ids.size() > max_tokens;
  if (ids.size() > max_tokens) ids.resize(max_tokens);
  return ids;
}

PairEncoding WordPieceTokenizer::encode_pair(std::string_view query, std::string_view doc, size_t max_length,
                                             Truncation truncation) const {
  if (max_length < pair_template().min_max_length()) return PairTokenizer::encode_pair({}, {}, max_length, truncation);
  Scratch& s = scratch();
  s.query_ids.clear();
  s.doc_ids.clear();
  encode_into(query, s.query_ids, s);
  encode_into(doc, s.doc_ids, s);
  PairEncoding enc = build_pair(s.query_ids, s.doc_ids, max_length, truncation);
  s.trim();
  return enc;
}

}  // namespace crossrank
