// A read-only byte trie over the pieces of a Unigram vocabulary: the prefixes of a text that are
// pieces, shortest first (what `tokenizers`' Unigram trie's common_prefix_search yields), each with
// its id and score. A node holds its piece's id and score together and its children's labels and
// targets side by side, so that a step down the trie touches as few cache lines as it can (with a
// 250k-piece vocabulary the walk is bound by memory latency).
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
  // pieces[id] / scores[id]: a piece and its score (same lengths); for a piece listed twice the
  // later id wins (as in the `tokenizers` map from piece to id).
  PieceTrie(const std::vector<std::string>& pieces, const std::vector<double>& scores);

  // Calls visit(length, id, score) for every prefix of `text` that is a piece, shortest first.
  template <typename Visit>
  void prefixes(std::string_view text, Visit&& visit) const {
    uint32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      node = child(node, static_cast<unsigned char>(text[i]));
      if (node == kNone) return;
      const Node& n = nodes_[node];
      if (n.id >= 0) visit(i + 1, n.id, n.score);
    }
  }

  // The id of exactly `text`, or -1.
  int32_t find(std::string_view text) const;

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  struct Node {
    double score = 0.0;
    uint32_t first = 0;  // children: edges_[first, first + count), labels ascending
    uint32_t count = 0;
    int32_t id = -1;
  };
  struct Edge {
    uint32_t target;
    unsigned char label;
  };

  uint32_t child(uint32_t node, unsigned char c) const {
    if (node == 0) return root_[c];
    const Node& n = nodes_[node];
    const Edge* edges = edges_.data() + n.first;
    if (n.count > 8) {  // binary search among many children
      const Edge* hit = std::lower_bound(edges, edges + n.count, c,
                                         [](const Edge& e, unsigned char v) { return e.label < v; });
      return (hit != edges + n.count && hit->label == c) ? hit->target : kNone;
    }
    for (uint32_t k = 0; k < n.count; ++k) {
      if (edges[k].label == c) return edges[k].target;
      if (edges[k].label > c) break;
    }
    return kNone;
  }

  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  uint32_t root_[256];
};

}  // namespace crossrank
