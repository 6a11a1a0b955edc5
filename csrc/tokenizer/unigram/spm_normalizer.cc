#include "tokenizer/unigram/spm_normalizer.h"

#include <stdexcept>
#include <utility>

#include "tokenizer/unicode_tables.h"
#include "tokenizer/unigram/utf8_steps.h"

namespace crossrank {
namespace {

// The code point ending just before byte `end` of valid UTF-8 `text`, and its start.
char32_t last_code_point(std::string_view text, size_t end, size_t* begin) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) --i;
  *begin = i;
  return utf8_steps::decode(reinterpret_cast<const unsigned char*>(text.data()) + i, end - i);
}

std::string_view strip(std::string_view text, bool left, bool right) {
  if (left) {
    size_t i = 0;
    while (i < text.size()) {
      const auto* s = reinterpret_cast<const unsigned char*>(text.data()) + i;
      const size_t len = utf8_steps::length(*s);
      if (!unicode::is_whitespace(utf8_steps::decode(s, len))) break;
      i += len;
    }
    text.remove_prefix(i);
  }
  if (right) {
    while (!text.empty()) {
      size_t begin = 0;
      if (!unicode::is_whitespace(last_code_point(text, text.size(), &begin))) break;
      text.remove_suffix(text.size() - begin);
    }
  }
  return text;
}

void replace_literal(std::string_view in, std::string_view pattern, std::string_view content,
                     std::string& out) {
  size_t i = 0;
  while (true) {
    const size_t hit = in.find(pattern, i);
    if (hit == std::string_view::npos) break;
    out.append(in.substr(i, hit - i));
    out.append(content);
    i = hit + pattern.size();
  }
  out.append(in.substr(i));
}

void replace_space_runs(std::string_view in, size_t min_run, std::string_view content, std::string& out) {
  size_t i = 0;
  while (i < in.size()) {
    if (in[i] != ' ') {
      out.push_back(in[i++]);
      continue;
    }
    size_t j = i;
    while (j < in.size() && in[j] == ' ') ++j;
    if (j - i >= min_run) {
      out.append(content);
    } else {
      out.append(in.substr(i, j - i));
    }
    i = j;
  }
}

}  // namespace

SpmNormalizer::SpmNormalizer(std::vector<NormalizerStep> steps) : steps_(std::move(steps)) {
  for (size_t k = 0; k < steps_.size(); ++k) {
    const NormalizerStep& step = steps_[k];
    const std::string where = "normalizer step " + std::to_string(k) + ": ";
    if (step.kind == NormalizerStep::Kind::kPrecompiled && !step.charsmap) {
      throw std::invalid_argument(where + "Precompiled without a charsmap");
    }
    if (step.kind == NormalizerStep::Kind::kReplace && step.pattern.empty()) {
      throw std::invalid_argument(where + "Replace with an empty pattern");
    }
    if (step.kind == NormalizerStep::Kind::kReplaceSpaceRun && step.min_run == 0) {
      throw std::invalid_argument(where + "a run of at least 0 spaces");
    }
  }
}

bool SpmNormalizer::cuttable_at_spaces() const {
  static const std::string kKept =
      " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (const NormalizerStep& step : steps_) {
    switch (step.kind) {
      case NormalizerStep::Kind::kPrecompiled:
        for (const char c : kKept) {
          if (!step.charsmap->keeps_ascii(c)) return false;
        }
        break;
      case NormalizerStep::Kind::kStrip:
        if (step.strip_left) return false;
        break;
      case NormalizerStep::Kind::kReplace:
        if (step.pattern.find(' ') != std::string::npos || step.content.find(' ') != std::string::npos) {
          return false;
        }
        break;
      case NormalizerStep::Kind::kReplaceSpaceRun:
        if (step.min_run < 2 || step.content.find(' ') != std::string::npos) return false;
        break;
    }
  }
  return true;
}

void SpmNormalizer::normalize(std::string_view text, std::string& out, std::string& scratch) const {
  out.assign(text);
  for (const NormalizerStep& step : steps_) {
    scratch.clear();
    apply(step, out, scratch);
    std::swap(out, scratch);
  }
}

void SpmNormalizer::apply(const NormalizerStep& step, std::string_view in, std::string& out) const {
  switch (step.kind) {
    case NormalizerStep::Kind::kPrecompiled:
      step.charsmap->normalize(in, out);
      return;
    case NormalizerStep::Kind::kStrip:
      out.append(strip(in, step.strip_left, step.strip_right));
      return;
    case NormalizerStep::Kind::kReplace:
      replace_literal(in, step.pattern, step.content, out);
      return;
    case NormalizerStep::Kind::kReplaceSpaceRun:
      replace_space_runs(in, step.min_run, step.content, out);
      return;
  }
}

}  // namespace crossrank
