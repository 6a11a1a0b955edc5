#include "tokenizer/unigram/unigram_tokenizer.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "tokenizer/utf8.h"

namespace crossrank {

struct UnigramTokenizer::Scratch {
  std::vector<char32_t> text;  // decoded input
  std::vector<size_t> raw_offsets;
  std::vector<TextSegment> raw_segments;
  std::string normalized;  // one raw piece after the normalizer
  std::vector<char32_t> normalized_cps;
  std::vector<size_t> normalized_offsets;
  std::vector<TextSegment> normalized_segments;

  // After a huge text, give the buffers' memory back.
  void trim() {
    constexpr size_t kKeep = size_t{1} << 20;
    if (text.capacity() > kKeep) std::vector<char32_t>().swap(text);
    if (raw_offsets.capacity() > kKeep) std::vector<size_t>().swap(raw_offsets);
    if (normalized.capacity() > kKeep) std::string().swap(normalized);
    if (normalized_cps.capacity() > kKeep) std::vector<char32_t>().swap(normalized_cps);
    if (normalized_offsets.capacity() > kKeep) std::vector<size_t>().swap(normalized_offsets);
  }
};

UnigramTokenizer::Scratch& UnigramTokenizer::scratch() {
  thread_local Scratch s;
  return s;
}

namespace {

// Byte offset of each code point of valid UTF-8 `text`, plus the end.
void code_point_offsets(std::string_view text, std::vector<size_t>& offsets) {
  offsets.clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) offsets.push_back(i);
  }
  offsets.push_back(text.size());
}

// Bytes per token encode_prefix reads ahead (XLM-R averages ~4 bytes per token in English).
constexpr size_t kPrefixBytesPerToken = 6;
constexpr size_t kPrefixMinPartBytes = 256;

inline bool is_ascii_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Whether an added token keeps the text cuttable before a space between ASCII alphanumerics: it has
// no space, and does not strip a space away from a letter or digit it starts or ends with.
bool cuttable_next_to(const AddedToken& token) {
  const std::string& c = token.content;
  if (c.find(' ') != std::string::npos) return false;
  if (token.lstrip && is_ascii_alnum(c.front())) return false;
  if (token.rstrip && is_ascii_alnum(c.back())) return false;
  return true;
}

// Where the part of text starting at `begin` ends: before the first single space between ASCII
// alphanumerics at or past begin + want (the text's end when there is none).
size_t part_end(std::string_view text, size_t begin, size_t want) {
  if (want >= text.size() - begin) return text.size();
  for (size_t i = std::max(begin + want, begin + 1); i + 1 < text.size(); ++i) {
    if (text[i] == ' ' && is_ascii_alnum(text[i - 1]) && is_ascii_alnum(text[i + 1])) return i;
  }
  return text.size();
}

}  // namespace

UnigramTokenizer::UnigramTokenizer(PairTemplate pair_template, UnigramPipeline pipeline,
                                   const std::vector<AddedToken>& added)
    : PairTokenizer(std::move(pair_template)), pipeline_(std::move(pipeline)) {
  added_ = build_added_tokens(added, [this](const std::u32string& content) {
    std::string text, normalized;
    for (const char32_t c : content) utf8::append(text, c);
    pipeline_.normalize(text, normalized);
    return utf8::decode_or_throw(normalized, "normalized added token '" + text + "'");
  });
  cuttable_ = pipeline_.cuttable_at_spaces() && std::all_of(added.begin(), added.end(), cuttable_next_to);
}

std::vector<int32_t> UnigramTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  Scratch& s = scratch();
  encode_into(text, true, ids, s);
  s.trim();
  return ids;
}

std::vector<int32_t> UnigramTokenizer::encode_prefix(std::string_view text, size_t max_tokens, bool* cut) const {
  std::vector<int32_t> ids;
  Scratch& s = scratch();
  if (!cuttable_) {
    encode_into(text, true, ids, s);
  } else {
    for (size_t begin = 0; begin < text.size() && ids.size() <= max_tokens;) {
      const size_t want = std::max(kPrefixMinPartBytes, (max_tokens + 1 - ids.size()) * kPrefixBytesPerToken);
      const size_t end = part_end(text, begin, want);
      encode_into(text.substr(begin, end - begin), begin == 0, ids, s);
      begin = end;
    }
  }
  s.trim();
  if (cut != nullptr) *cut = ids.size() > max_tokens;
  if (ids.size() > max_tokens) ids.resize(max_tokens);
  return ids;
}

int32_t UnigramTokenizer::id_limit() const { return std::max(PairTokenizer::id_limit(), added_.id_limit); }

void UnigramTokenizer::encode_into(std::string_view text, bool at_start, std::vector<int32_t>& ids,
                                   Scratch& s) const {
  count_tokenized_bytes(text.size());
  s.text.clear();
  utf8::decode_or_throw(text, s.text, "text");
  if (added_.raw.empty()) {
    encode_piece(text, at_start, ids, s);
    return;
  }
  code_point_offsets(text, s.raw_offsets);
  added_.raw.find(s.text.data(), s.text.size(), s.raw_segments);
  for (const TextSegment& seg : s.raw_segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
    } else {
      const size_t begin = s.raw_offsets[seg.begin];
      encode_piece(text.substr(begin, s.raw_offsets[seg.end] - begin), at_start && seg.begin == 0, ids, s);
    }
  }
}

void UnigramTokenizer::encode_piece(std::string_view piece, bool starts_text, std::vector<int32_t>& ids,
                                    Scratch& s) const {
  pipeline_.normalize(piece, s.normalized);
  if (added_.normalized.empty()) {
    pipeline_.tokenize_normalized(s.normalized, starts_text, ids);
    return;
  }
  s.normalized_cps.clear();
  utf8::decode_or_throw(s.normalized, s.normalized_cps, "normalized text");
  code_point_offsets(s.normalized, s.normalized_offsets);
  added_.normalized.find(s.normalized_cps.data(), s.normalized_cps.size(), s.normalized_segments);
  const std::string_view view = s.normalized;
  for (const TextSegment& seg : s.normalized_segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
    } else {
      const size_t begin = s.normalized_offsets[seg.begin];
      pipeline_.tokenize_normalized(view.substr(begin, s.normalized_offsets[seg.end] - begin),
                                    starts_text && seg.begin == 0, ids);
    }
  }
}

}  // namespace crossrank
