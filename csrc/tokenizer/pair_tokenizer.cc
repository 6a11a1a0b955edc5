#include "tokenizer/pair_tokenizer.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace crossrank {
namespace {

std::atomic<uint64_t> g_tokenized_bytes{0};

}  // namespace

uint64_t tokenized_bytes() { return g_tokenized_bytes.load(std::memory_order_relaxed); }

void count_tokenized_bytes(size_t bytes) { g_tokenized_bytes.fetch_add(bytes, std::memory_order_relaxed); }

PairTokenizer::PairTokenizer(PairTemplate pair_template) : pair_template_(std::move(pair_template)) {
  for (const std::vector<int32_t>* part : {&pair_template_.prefix, &pair_template_.middle, &pair_template_.suffix}) {
    for (int32_t id : *part) {
      if (id < 0) throw std::invalid_argument("special token ids must be >= 0, got " + std::to_string(id));
    }
  }
}

std::vector<int32_t> PairTokenizer::encode_prefix(std::string_view text, size_t max_tokens, bool* cut) const {
  std::vector<int32_t> ids = encode(text);
  if (cut != nullptr) *cut = ids.size() > max_tokens;
  if (ids.size() > max_tokens) ids.resize(max_tokens);
  return ids;
}

PairEncoding PairTokenizer::encode_pair(std::string_view query, std::string_view doc, size_t max_length,
                                        Truncation truncation) const {
  if (max_length < pair_template_.min_max_length()) {
    // Checked before tokenizing: a bad argument fails fast, whatever the texts hold.
    return build_pair({}, {}, max_length, truncation);
  }
  return build_pair(encode(query), encode(doc), max_length, truncation);
}

int32_t PairTokenizer::id_limit() const {
  const size_t vocab = std::min(vocab_size(), static_cast<size_t>(std::numeric_limits<int32_t>::max()));
  int32_t limit = static_cast<int32_t>(vocab);
  for (const std::vector<int32_t>* part : {&pair_template_.prefix, &pair_template_.middle, &pair_template_.suffix}) {
    for (int32_t id : *part) limit = std::max(limit, id + 1);
  }
  return limit;
}

}  // namespace crossrank
