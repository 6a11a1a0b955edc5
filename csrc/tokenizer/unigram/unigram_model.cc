#include "tokenizer/unigram/unigram_model.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <stdexcept>

#include "tokenizer/unigram/piece_cache.h"
#include "tokenizer/unigram/utf8_steps.h"
#include "tokenizer/utf8.h"

namespace crossrank {
namespace {

constexpr double kUnkPenalty = 10.0;

struct BestPath {  // the best segmentation of text[0, end): its last token and score
  double score = 0.0;
  size_t start = 0;
  int32_t id = -1;
  bool reached = false;
};

UnigramVocab validated(UnigramVocab vocab) {
  if (vocab.pieces.empty()) throw std::invalid_argument("unigram vocab: empty");
  if (vocab.pieces.size() != vocab.scores.size()) {
    throw std::invalid_argument("unigram vocab: " + std::to_string(vocab.pieces.size()) + " pieces but " +
                                std::to_string(vocab.scores.size()) + " scores");
  }
  if (vocab.unk_id >= static_cast<int32_t>(vocab.pieces.size()) || vocab.unk_id < -1) {
    throw std::invalid_argument("unigram unk_id " + std::to_string(vocab.unk_id) +
                                " is not an id of the " + std::to_string(vocab.pieces.size()) +
                                "-piece vocab");
  }
  std::vector<char32_t> scratch;
  for (size_t id = 0; id < vocab.pieces.size(); ++id) {
    size_t bad = 0;
    scratch.clear();
    if (vocab.pieces[id].empty() || !utf8::decode(vocab.pieces[id], scratch, &bad)) {
      throw std::invalid_argument("unigram vocab: piece " + std::to_string(id) +
                                  " is empty or not valid UTF-8");
    }
  }
  return vocab;
}

}  // namespace

UnigramModel::UnigramModel(UnigramVocab vocab)
    : vocab_(validated(std::move(vocab))), trie_(vocab_.pieces, vocab_.scores) {
  const double min_score = *std::min_element(vocab_.scores.begin(), vocab_.scores.end());
  unk_score_ = min_score - kUnkPenalty;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    byte_ids_[b] = trie_.find(name);
  }
  static std::atomic<uint64_t> next_serial{1};
  serial_ = next_serial.fetch_add(1, std::memory_order_relaxed);
}

void UnigramModel::encode(std::string_view piece, std::vector<int32_t>& ids) const {
  if (piece.empty()) return;
  PieceCache& cache = PieceCache::local();
  if (cache.get(serial_, piece, ids)) return;
  const size_t before = ids.size();
  segment(piece, ids);
  cache.put(serial_, piece, ids.data() + before, ids.size() - before);
}

void UnigramModel::segment(std::string_view piece, std::vector<int32_t>& ids) const {
  thread_local std::vector<BestPath> best;
  best.assign(piece.size() + 1, BestPath{});
  best[0].reached = true;
  const auto* s = reinterpret_cast<const unsigned char*>(piece.data());
  for (size_t start = 0; start < piece.size();) {
    const double here = best[start].score;
    const size_t char_len = utf8_steps::length(s[start]);
    bool single_char_piece = false;
    trie_.prefixes(piece.substr(start), [&](size_t length, int32_t id, double score) {
      BestPath& target = best[start + length];
      const double candidate = score + here;
      if (!target.reached || candidate > target.score) target = {candidate, start, id, true};
      if (length == char_len) single_char_piece = true;
    });
    if (!single_char_piece) {
      if (vocab_.unk_id < 0) {
        throw std::invalid_argument("unigram: the text has a character no piece covers and the vocab has no unk_id");
      }
      BestPath& target = best[start + char_len];
      const double candidate = unk_score_ + here;
      if (!target.reached || candidate > target.score) target = {candidate, start, vocab_.unk_id, true};
    }
    start += char_len;
  }
  // Walk back; runs of unknown nodes fuse into one token.
  thread_local std::vector<std::pair<size_t, size_t>> tokens;  // [begin, end), reversed
  tokens.clear();
  size_t end = piece.size();
  bool in_unknown = false;
  while (end > 0) {
    const BestPath& node = best[end];
    const bool unknown = node.id == vocab_.unk_id;
    if (unknown && in_unknown) {
      tokens.back().first = node.start;
    } else {
      tokens.emplace_back(node.start, end);
    }
    in_unknown = unknown;
    end = node.start;
  }
  for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
    append_token(piece.substr(it->first, it->second - it->first), ids);
  }
}

void UnigramModel::append_token(std::string_view token, std::vector<int32_t>& ids) const {
  const int32_t id = trie_.find(token);
  if (id >= 0) {
    ids.push_back(id);
    return;
  }
  if (vocab_.byte_fallback) {
    bool all = true;
    for (const char c : token) all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
    if (all) {
      for (const char c : token) ids.push_back(byte_ids_[static_cast<unsigned char>(c)]);
      return;
    }
  }
  if (vocab_.unk_id < 0) {
    throw std::invalid_argument("unigram: the text has an unknown character and the vocab has no unk_id");
  }
  ids.push_back(vocab_.unk_id);
}

}  // namespace crossrank
