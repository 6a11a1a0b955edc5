// A small per-thread cache of the ids of recently tokenized pieces (words, with their "▁"), as
// `tokenizers` keeps one for its Unigram model: real text repeats its words, and the Viterbi walk of a
// 250k-piece trie is bound by memory latency. Direct-mapped and fixed-size: a piece of up to
// kMaxBytes bytes whose ids number at most kMaxIds; a colliding piece replaces the slot's. Each
// model has its own serial number, so a thread that tokenizes with several models (or a model built
// where a freed one lay) never reads another's entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <vector>

namespace crossrank {

class PieceCache {
 public:
  static constexpr size_t kMaxBytes = 30;
  static constexpr size_t kMaxIds = 6;

  // The calling thread's cache.
  static PieceCache& local() {
    thread_local PieceCache cache;
    return cache;
  }

  // Appends the cached ids of `piece` for model `owner` to `ids`; false when not cached.
  bool get(uint64_t owner, std::string_view piece, std::vector<int32_t>& ids) const {
    if (piece.size() > kMaxBytes) return false;
    const Slot& s = slots_[slot_of(piece)];
    if (s.owner != owner || s.length != piece.size() || std::memcmp(s.bytes, piece.data(), piece.size()) != 0) {
      return false;
    }
    ids.insert(ids.end(), s.ids, s.ids + s.count);
    return true;
  }

  // Remembers ids[0, count) as the ids of `piece` for model `owner` (ignored when too long).
  void put(uint64_t owner, std::string_view piece, const int32_t* ids, size_t count) {
    if (piece.size() > kMaxBytes || count > kMaxIds) return;
    Slot& s = slots_[slot_of(piece)];
    s.owner = owner;
    s.length = static_cast<uint8_t>(piece.size());
    std::memcpy(s.bytes, piece.data(), piece.size());
    s.count = static_cast<uint8_t>(count);
    std::memcpy(s.ids, ids, count * sizeof(int32_t));
  }

 private:
  static constexpr size_t kSlots = 4096;  // 4096 x 64 bytes = 256 KiB per thread
  struct Slot {
    uint64_t owner = 0;  // 0: empty (model serials start at 1)
    uint8_t length = 0;
    uint8_t count = 0;
    char bytes[kMaxBytes];
    int32_t ids[kMaxIds];
  };

  static size_t slot_of(std::string_view piece) { return std::hash<std::string_view>{}(piece) & (kSlots - 1); }

  std::vector<Slot> slots_ = std::vector<Slot>(kSlots);
};

}  // namespace crossrank
