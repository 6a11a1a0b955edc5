#include "tokenizer/unigram/unigram_pipeline.h"

#include <utility>

namespace crossrank {

UnigramPipeline::UnigramPipeline(SpmNormalizer normalizer, MetaspaceConfig metaspace, UnigramModel model)
    : normalizer_(std::move(normalizer)), metaspace_(std::move(metaspace)), model_(std::move(model)) {}

void UnigramPipeline::normalize(std::string_view text, std::string& out) const {
  thread_local std::string scratch;
  normalizer_.normalize(text, out, scratch);
}

void UnigramPipeline::tokenize_normalized(std::string_view normalized, bool starts_text,
                                          std::vector<int32_t>& ids) const {
  thread_local std::string buffer;
  thread_local std::vector<std::pair<size_t, size_t>> spans;
  metaspace_split(metaspace_, normalized, starts_text, buffer, spans);
  for (const auto& [begin, end] : spans) {
    model_.encode(std::string_view(buffer).substr(begin, end - begin), ids);
  }
}

}  // namespace crossrank
