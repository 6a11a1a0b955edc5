#include "tokenizer/unigram/piece_trie.h"

#include <algorithm>
#include <numeric>

namespace crossrank {

PieceTrie::PieceTrie(const std::vector<std::string>& pieces, const std::vector<double>& scores) {
  // Build level by level from the sorted pieces, so that every node's children are contiguous and
  // ascending: a node is a (begin, end, depth) range of sorted pieces sharing `depth` bytes.
  std::vector<uint32_t> order(pieces.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return pieces[a] < pieces[b]; });
  struct Pending {
    size_t begin, end, depth;
    uint32_t node;
  };
  std::fill(std::begin(root_), std::end(root_), kNone);
  nodes_.emplace_back();
  std::vector<Pending> queue{{0, order.size(), 0, 0}};
  for (size_t q = 0; q < queue.size(); ++q) {
    const Pending cur = queue[q];
    size_t i = cur.begin;
    // Pieces ending exactly here: the last id listed wins.
    while (i < cur.end && pieces[order[i]].size() == cur.depth) {
      Node& node = nodes_[cur.node];
      if (static_cast<int32_t>(order[i]) > node.id) {
        node.id = static_cast<int32_t>(order[i]);
        node.score = scores[order[i]];
      }
      ++i;
    }
    nodes_[cur.node].first = static_cast<uint32_t>(edges_.size());
    while (i < cur.end) {
      const unsigned char c = static_cast<unsigned char>(pieces[order[i]][cur.depth]);
      size_t j = i;
      while (j < cur.end && static_cast<unsigned char>(pieces[order[j]][cur.depth]) == c) ++j;
      const auto node = static_cast<uint32_t>(nodes_.size());
      nodes_.emplace_back();
      edges_.push_back(Edge{node, c});
      if (cur.node == 0) root_[c] = node;
      ++nodes_[cur.node].count;
      queue.push_back({i, j, cur.depth + 1, node});
      i = j;
    }
  }
}

int32_t PieceTrie::find(std::string_view text) const {
  uint32_t node = 0;
  for (const char ch : text) {
    node = child(node, static_cast<unsigned char>(ch));
    if (node == kNone) return -1;
  }
  return text.empty() ? -1 : nodes_[node].id;
}

}  // namespace crossrank
