// A read-only byte trie over the pieces of a Unigram vocabulary: the prefixes of a text that are
// pieces, shortest first (what `tokenizers`' Unigram trie's common_prefix_search yields).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crossrank {

class PieceTrie {
 public:
  // pieces[id] is the piece of id; for a piece listed twice the later id wins (as in the
  // `tokenizers` map from piece to id).
  explicit PieceTrie(const std::vector<std::string>& pieces);

  // Calls visit(length, id) for every prefix of `text` that is a piece, shortest first.
  template <typename Visit>
  void prefixes(std::string_view text, Visit&& visit) const {
    uint32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      node = child(node, static_cast<unsigned char>(text[i]));
      if (node == kNone) return;
      const int32_t id = nodes_[node].id;
      if (id >= 0) visit(i + 1, id);
    }
  }

  // The id of exactly `text`, or -1.
  int32_t find(std::string_view text) const;

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  struct Node {
    uint32_t first = 0;  // children: labels_/targets_[first, first + count), labels ascending
    uint32_t count = 0;
    int32_t id = -1;
  };

  uint32_t child(uint32_t node, unsigned char c) const {
    if (node == 0) return root_[c];
    const Node& n = nodes_[node];
    const unsigned char* labels = labels_.data() + n.first;
    if (n.count > 8) {  // binary search among many children
      const unsigned char* hit = std::lower_bound(labels, labels + n.count, c);
      return (hit != labels + n.count && *hit == c) ? targets_[n.first + (hit - labels)] : kNone;
    }
    for (uint32_t k = 0; k < n.count; ++k) {
      if (labels[k] == c) return targets_[n.first + k];
      if (labels[k] > c) break;
    }
    return kNone;
  }

  std::vector<Node> nodes_;
  std::vector<unsigned char> labels_;
  std::vector<uint32_t> targets_;
  uint32_t root_[256];
};

}  // namespace crossrank
