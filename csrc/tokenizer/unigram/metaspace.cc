#include "tokenizer/unigram/metaspace.h"

namespace crossrank {

void metaspace_split(const MetaspaceConfig& config, std::string_view piece, bool starts_text,
                     std::string& buffer, std::vector<std::pair<size_t, size_t>>& spans) {
  spans.clear();
  buffer.clear();
  if (piece.empty()) return;
  const std::string_view rep = config.replacement;
  const bool starts_with_rep =
      piece.substr(0, 1) == " " || (!rep.empty() && piece.substr(0, rep.size()) == rep);
  const bool prepend = !starts_with_rep && (config.prepend_scheme == PrependScheme::kAlways ||
                                            (config.prepend_scheme == PrependScheme::kFirst && starts_text));
  if (prepend) buffer.append(rep);
  for (const char c : piece) {
    if (c == ' ') {
      buffer.append(rep);
    } else {
      buffer.push_back(c);
    }
  }
  if (!config.split || rep.empty()) {
    spans.emplace_back(0, buffer.size());
    return;
  }
  size_t begin = 0;
  for (size_t hit = buffer.find(rep); hit != std::string::npos; hit = buffer.find(rep, hit + rep.size())) {
    if (hit > begin) spans.emplace_back(begin, hit);
    begin = hit;
  }
  if (buffer.size() > begin) spans.emplace_back(begin, buffer.size());
}

}  // namespace crossrank
