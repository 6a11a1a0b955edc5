// Open-addressing string_view -> id hash map for WordPiece vocab lookups
// (no allocation per lookup, unlike std::unordered_map<std::string, ...> in C++17).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace crossrank {

class VocabMap {
 public:
  // Adds key -> id. Returns false (and changes nothing) if the key is already present.
  bool insert(std::string_view key, int32_t id) {
    if ((count_ + 1) * 2 > slots_.size()) grow();
    return insert_slot(key, id, hash(key));
  }

  // The id of `key`, or -1.
  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.len == key.size() &&
          std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
        return s.id;
      }
    }
  }

  size_t size() const { return count_; }
  // Longest key in bytes (lookups of longer strings always miss).
  size_t max_key_bytes() const { return max_len_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    uint32_t len = 0;
    int32_t id = -1;
  };

  static uint64_t hash(std::string_view key) {
    // 8 bytes at a time, multiply-xorshift mixing.
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (key.size() * 0xFF51AFD7ED558CCDull);
    const char* p = key.data();
    size_t n = key.size();
    while (n >= 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
      p += 8;
      n -= 8;
    }
    if (n > 0) {
      uint64_t v = 0;
      std::memcpy(&v, p, n);
      h = (h ^ v) * 0x94D049BB133111EBull;
      h ^= h >> 29;
    }
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
  }

  bool insert_slot(std::string_view key, int32_t id, uint64_t h) {
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s.hash = h;
        s.offset = static_cast<uint32_t>(arena_.size());
        s.len = static_cast<uint32_t>(key.size());
        s.id = id;
        arena_.append(key.data(), key.size());
        ++count_;
        if (key.size() > max_len_) max_len_ = key.size();
        return true;
      }
      if (s.hash == h && s.len == key.size() &&
          std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
        return false;
      }
    }
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t cap = old.empty() ? 64 : old.size() * 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const Slot& s : old) {
      if (s.id < 0) continue;
      for (size_t i = s.hash & mask_;; i = (i + 1) & mask_) {
        if (slots_[i].id < 0) {
          slots_[i] = s;
          break;
        }
      }
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t count_ = 0;
  size_t max_len_ = 0;
};

}  // namespace crossrank
