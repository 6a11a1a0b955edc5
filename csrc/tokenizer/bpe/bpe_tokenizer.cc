#include "tokenizer/bpe/bpe_tokenizer.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "tokenizer/bpe/gpt2_split.h"
#include "tokenizer/bpe/nfc.h"
#include "tokenizer/utf8.h"

namespace crossrank {

struct ByteLevelBpeTokenizer::Scratch {
  std::vector<char32_t> text;        // decoded input
  std::vector<char32_t> normalized;  // NFC of one piece
  std::vector<char32_t> nfc;         // NFC's scratch
  std::vector<char32_t> prefixed;    // a piece with the prefix space
  std::vector<TextSegment> raw_segments;
  std::vector<TextSegment> normalized_segments;
  std::string piece;                 // UTF-8 bytes of one pre-tokenized piece

  // After a huge text, give the buffers' memory back.
  void trim() {
    constexpr size_t kKeep = size_t{1} << 20;
    for (auto* v : {&text, &normalized, &nfc, &prefixed}) {
      if (v->capacity() > kKeep) std::vector<char32_t>().swap(*v);
    }
  }
};

ByteLevelBpeTokenizer::Scratch& ByteLevelBpeTokenizer::scratch() {
  thread_local Scratch s;
  return s;
}

ByteLevelBpeTokenizer::ByteLevelBpeTokenizer(ByteLevelBpeConfig config, PairTemplate pair_template)
    : PairTokenizer(std::move(pair_template)),
      model_(std::move(config.model)),
      nfc_(config.nfc),
      add_prefix_space_(config.add_prefix_space),
      use_regex_(config.use_regex) {
  added_ = build_added_tokens(config.added_tokens, [this](const std::u32string& content) {
    if (!nfc_) return content;
    std::vector<char32_t> normalized, scratch_buffer;
    bpe::nfc(content.data(), content.size(), normalized, scratch_buffer);
    return std::u32string(normalized.begin(), normalized.end());
  });
}

int32_t ByteLevelBpeTokenizer::id_limit() const {
  return std::max(PairTokenizer::id_limit(), added_.id_limit);
}

void ByteLevelBpeTokenizer::encode_pieces(const char32_t* text, size_t n, std::vector<int32_t>& ids, size_t limit,
                                          Scratch& s) const {
  if (n == 0) return;
  if (add_prefix_space_ && text[0] != U' ') {
    s.prefixed.assign(1, U' ');
    s.prefixed.insert(s.prefixed.end(), text, text + n);
    text = s.prefixed.data();
    n = s.prefixed.size();
  }
  size_t begin = 0;
  while (begin < n && ids.size() <= limit) {
    const size_t end = use_regex_ ? bpe::gpt2_piece_end(text, n, begin) : n;
    s.piece.clear();
    for (size_t i = begin; i < end; ++i) utf8::append(s.piece, text[i]);
    model_.encode_piece(s.piece, ids);
    begin = end;
  }
}

void ByteLevelBpeTokenizer::encode_normalized(const char32_t* text, size_t n, std::vector<int32_t>& ids,
                                              size_t limit, Scratch& s) const {
  if (nfc_) {
    s.normalized.clear();
    bpe::nfc(text, n, s.normalized, s.nfc);
    text = s.normalized.data();
    n = s.normalized.size();
  }
  if (added_.normalized.empty()) {
    encode_pieces(text, n, ids, limit, s);
    return;
  }
  added_.normalized.find(text, n, s.normalized_segments);
  for (const TextSegment& seg : s.normalized_segments) {
    if (ids.size() > limit) return;
    if (seg.id >= 0) {
      ids.push_back(seg.id);
    } else {
      encode_pieces(text + seg.begin, seg.end - seg.begin, ids, limit, s);
    }
  }
}

void ByteLevelBpeTokenizer::encode_into(std::string_view text, std::vector<int32_t>& ids, size_t limit,
                                        Scratch& s) const {
  count_tokenized_bytes(text.size());
  s.text.clear();
  utf8::decode_or_throw(text, s.text, "text");
  const char32_t* cps = s.text.data();
  const size_t n = s.text.size();
  if (n == 0) return;
  if (added_.raw.empty()) {
    encode_normalized(cps, n, ids, limit, s);
    return;
  }
  added_.raw.find(cps, n, s.raw_segments);
  for (const TextSegment& seg : s.raw_segments) {
    if (ids.size() > limit) return;
    if (seg.id >= 0) {
      ids.push_back(seg.id);
    } else {
      encode_normalized(cps + seg.begin, seg.end - seg.begin, ids, limit, s);
    }
  }
}

std::vector<int32_t> ByteLevelBpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  Scratch& s = scratch();
  encode_into(text, ids, SIZE_MAX - 1, s);
  s.trim();
  return ids;
}

std::vector<int32_t> ByteLevelBpeTokenizer::encode_prefix(std::string_view text, size_t max_tokens, bool* cut) const {
  std::vector<int32_t> ids;
  Scratch& s = scratch();
  encode_into(text, ids, max_tokens, s);
  s.trim();
  if (cut != nullptr) *cut = ids.size() > max_tokens;
  if (ids.size() > max_tokens) ids.resize(max_tokens);
  return ids;
}

}  // namespace crossrank
