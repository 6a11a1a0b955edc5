// `tokenizers`' Metaspace pre-tokenizer: every U+0020 becomes the replacement (default U+2581 "▁"),
// the replacement is prepended to a piece that does not start with it (prepend_scheme "always"; "first":
// only to the piece that starts the text; "never"), and with split the piece is cut before every
// replacement (MergedWithNext), empty parts dropped.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crossrank {

enum class PrependScheme { kAlways, kFirst, kNever };

struct MetaspaceConfig {
  std::string replacement = "\xE2\x96\x81";  // U+2581, UTF-8
  PrependScheme prepend_scheme = PrependScheme::kAlways;
  bool split = true;
};

// Pre-tokenizes one normalized piece of text. `starts_text`: the piece begins at offset 0 of the
// original text (for PrependScheme::kFirst). The spans [begin, end) index into `buffer`, which is
// replaced.
void metaspace_split(const MetaspaceConfig& config, std::string_view piece, bool starts_text,
                     std::string& buffer, std::vector<std::pair<size_t, size_t>>& spans);

}  // namespace crossrank
