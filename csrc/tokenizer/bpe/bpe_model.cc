#include "tokenizer/bpe/bpe_model.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <stdexcept>
#include <unordered_map>

#include "tokenizer/bpe/byte_map.h"
#include "tokenizer/utf8.h"

namespace crossrank {
namespace bpe {
namespace {

std::atomic<uint64_t> g_instances{0};

// Words of this many bytes or more are not cached (tokenizers' MAX_LENGTH).
constexpr size_t kCacheMaxBytes = 256;
constexpr size_t kCacheSlots = 4096;
constexpr size_t kKeepScratchBytes = size_t{1} << 16;

enum Position { kMiddle = 0, kFirst = 1, kLast = 2, kOnly = 3 };

struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  uint32_t len;  // 0: merged into its left neighbour
};

struct QueueEntry {
  uint32_t rank;
  uint32_t pos;
  int32_t new_id;
};

// Heap order: the lowest rank on top, then the leftmost position (word.rs's Ord for Merge).
bool after(const QueueEntry& a, const QueueEntry& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
}

inline uint64_t pair_key(int32_t left, int32_t right) {
  return ((static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right)) + 1;
}

inline uint64_t mix(uint64_t key) {
  key *= 0x9E3779B97F4A7C15ull;
  return key ^ (key >> 29);
}

// The raw bytes a token spells in the byte alphabet, or nothing when it has other characters.
std::optional<std::string> raw_bytes(const std::string& token) {
  std::vector<char32_t> cps;
  size_t bad = 0;
  if (!utf8::decode(token, cps, &bad)) return std::nullopt;
  std::string out;
  for (char32_t c : cps) {
    const int b = char_to_byte(c);
    if (b < 0) return std::nullopt;
    out.push_back(static_cast<char>(b));
  }
  return out;
}

// Bytes that occur in valid UTF-8 (every byte but 0xC0, 0xC1 and 0xF5..0xFF).
bool occurs_in_utf8(int b) { return b < 0xC0 || (b >= 0xC2 && b <= 0xF4); }

}  // namespace

struct BpeModel::Scratch {
  struct CacheEntry {
    uint64_t instance = 0;
    std::string key;
    std::vector<int32_t> ids;
  };
  std::vector<Symbol> symbols;
  std::vector<QueueEntry> queue;
  std::vector<CacheEntry> cache = std::vector<CacheEntry>(kCacheSlots);
};

BpeModel::BpeModel(BpeModelConfig config)
    : unk_id_(-1), fuse_unk_(config.fuse_unk), ignore_merges_(config.ignore_merges),
      instance_(++g_instances) {
  std::unordered_map<std::string, int32_t> vocab;
  for (const auto& [token, id] : config.vocab) {
    if (id < 0) throw std::invalid_argument("vocab token '" + token + "' has a negative id");
    vocab[token] = id;  // a token listed twice keeps its last id, as in a JSON object
    max_id_ = std::max(max_id_, id);
  }
  vocab_size_ = vocab.size();
  for (const auto& [token, id] : vocab) {
    if (auto raw = raw_bytes(token)) raw_vocab_.insert(*raw, id);
  }
  auto find = [&](const std::string& token) {
    auto it = vocab.find(token);
    return it == vocab.end() ? -1 : it->second;
  };
  // Initial symbols: tokenizers looks up prefix + char (not first) + suffix (last).
  const std::string& prefix = config.continuing_subword_prefix;
  const std::string& suffix = config.end_of_word_suffix;
  if (config.unk_token) unk_id_ = find(*config.unk_token);
  for (int b = 0; b < 256; ++b) {
    std::string symbol;
    utf8::append(symbol, kByteToChar[b]);
    byte_ids_[kFirst][b] = find(symbol);
    byte_ids_[kMiddle][b] = find(prefix + symbol);
    byte_ids_[kOnly][b] = find(symbol + suffix);
    byte_ids_[kLast][b] = find(prefix + symbol + suffix);
    for (const auto& ids : byte_ids_) {
      if (ids[b] >= 0 || !occurs_in_utf8(b)) continue;
      const std::string hex = {"0123456789ABCDEF"[b >> 4], "0123456789ABCDEF"[b & 15]};
      if (config.byte_fallback) {
        throw std::invalid_argument("byte_fallback is set and the vocab has no symbol for byte 0x" + hex +
                                    ": not supported (no byte-level vocabulary has <0xNN> tokens)");
      }
      if (unk_id_ >= 0) continue;
      throw std::invalid_argument(
          "the vocab has no symbol for byte 0x" + hex +
          (config.unk_token ? " and its unk token '" + *config.unk_token + "' is not in the vocab"
                            : " and there is no unk token (tokenizers would drop the byte silently)"));
    }
  }
  // Merges: (left, right) -> (rank, id of left + right without the right's prefix).
  size_t cap = 16;
  while (cap < config.merges.size() * 2) cap *= 2;
  merge_keys_.assign(cap, 0);
  merge_values_.assign(cap, 0);
  merge_mask_ = cap - 1;
  for (size_t rank = 0; rank < config.merges.size(); ++rank) {
    const auto& [a, b] = config.merges[rank];
    const std::string where = "merge " + std::to_string(rank) + " ('" + a + "' '" + b + "')";
    const int32_t left = find(a);
    const int32_t right = find(b);
    if (left < 0 || right < 0) {
      throw std::invalid_argument(where + ": '" + (left < 0 ? a : b) + "' is not in the vocab");
    }
    if (b.size() < prefix.size()) throw std::invalid_argument(where + ": its right part is shorter than the prefix");
    const std::string joined = a + b.substr(prefix.size());
    const int32_t id = find(joined);
    if (id < 0) throw std::invalid_argument(where + ": '" + joined + "' is not in the vocab");
    const uint64_t key = pair_key(left, right);
    for (uint64_t i = mix(key) & merge_mask_;; i = (i + 1) & merge_mask_) {
      if (merge_keys_[i] == 0 || merge_keys_[i] == key) {  // a repeated pair keeps its last rank
        merge_keys_[i] = key;
        merge_values_[i] = (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(id);
        break;
      }
    }
  }
}

int32_t BpeModel::symbol_id(unsigned char byte, bool first, bool last) const {
  return byte_ids_[(first ? kFirst : kMiddle) | (last ? kLast : 0)][byte];
}

namespace {

// (rank, new id) of the merge of (left, right), or false.
inline bool lookup(const std::vector<uint64_t>& keys, const std::vector<uint64_t>& values, uint64_t mask,
                   int32_t left, int32_t right, QueueEntry* entry) {
  const uint64_t key = pair_key(left, right);
  for (uint64_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (keys[i] == key) {
      entry->rank = static_cast<uint32_t>(values[i] >> 32);
      entry->new_id = static_cast<int32_t>(static_cast<uint32_t>(values[i]));
      return true;
    }
    if (keys[i] == 0) return false;
  }
}

}  // namespace

void BpeModel::merge_word(std::string_view piece, std::vector<int32_t>& ids, Scratch& s) const {
  std::vector<Symbol>& sym = s.symbols;
  sym.clear();
  auto add = [&](int32_t id, uint32_t len) {
    const int32_t n = static_cast<int32_t>(sym.size());
    if (n > 0) sym.back().next = n;
    sym.push_back(Symbol{id, n - 1, -1, len});
  };
  // merge_word's first loop: one symbol a byte; bytes without one become (fused) unk tokens.
  int32_t pending_unk_len = 0;
  for (size_t i = 0; i < piece.size(); ++i) {
    const int32_t id = symbol_id(static_cast<unsigned char>(piece[i]), i == 0, i + 1 == piece.size());
    if (id >= 0) {
      if (pending_unk_len > 0) add(unk_id_, pending_unk_len);
      pending_unk_len = 0;
      add(id, 1);
    } else if (pending_unk_len > 0 && fuse_unk_) {
      ++pending_unk_len;
    } else {
      if (pending_unk_len > 0) add(unk_id_, pending_unk_len);
      pending_unk_len = 1;
    }
  }
  if (pending_unk_len > 0) add(unk_id_, pending_unk_len);

  // merge_all
  std::vector<QueueEntry>& queue = s.queue;
  queue.clear();
  QueueEntry e{};
  for (size_t i = 0; i + 1 < sym.size(); ++i) {
    if (lookup(merge_keys_, merge_values_, merge_mask_, sym[i].id, sym[i + 1].id, &e)) {
      queue.push_back(QueueEntry{e.rank, static_cast<uint32_t>(i), e.new_id});
    }
  }
  std::make_heap(queue.begin(), queue.end(), after);
  while (!queue.empty()) {
    std::pop_heap(queue.begin(), queue.end(), after);
    const QueueEntry top = queue.back();
    queue.pop_back();
    Symbol& cur = sym[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    const Symbol right = sym[cur.next];
    // A stale entry: the pair there now does not make this entry's token.
    if (!lookup(merge_keys_, merge_values_, merge_mask_, cur.id, right.id, &e) || e.new_id != top.new_id) continue;
    sym[cur.next].len = 0;
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    if (right.next >= 0) sym[right.next].prev = static_cast<int32_t>(top.pos);
    if (cur.prev >= 0 && lookup(merge_keys_, merge_values_, merge_mask_, sym[cur.prev].id, cur.id, &e)) {
      queue.push_back(QueueEntry{e.rank, static_cast<uint32_t>(cur.prev), e.new_id});
      std::push_heap(queue.begin(), queue.end(), after);
    }
    if (cur.next >= 0 && lookup(merge_keys_, merge_values_, merge_mask_, cur.id, sym[cur.next].id, &e)) {
      queue.push_back(QueueEntry{e.rank, top.pos, e.new_id});
      std::push_heap(queue.begin(), queue.end(), after);
    }
  }
  for (const Symbol& x : sym) {
    if (x.len != 0) ids.push_back(x.id);
  }
}

void BpeModel::encode_piece(std::string_view piece, std::vector<int32_t>& ids) const {
  if (ignore_merges_) {
    const int32_t id = raw_vocab_.find(piece);
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  thread_local Scratch s;
  if (piece.size() >= kCacheMaxBytes) {
    merge_word(piece, ids, s);
    if (piece.size() > kKeepScratchBytes) {  // after a huge word, give the memory back
      std::vector<Symbol>().swap(s.symbols);
      std::vector<QueueEntry>().swap(s.queue);
    }
    return;
  }
  Scratch::CacheEntry& slot = s.cache[std::hash<std::string_view>()(piece) & (kCacheSlots - 1)];
  if (slot.instance == instance_ && slot.key == piece) {
    ids.insert(ids.end(), slot.ids.begin(), slot.ids.end());
    return;
  }
  const size_t first = ids.size();
  merge_word(piece, ids, s);
  slot.instance = instance_;
  slot.key.assign(piece.data(), piece.size());
  slot.ids.assign(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end());
}

}  // namespace bpe
}  // namespace crossrank
