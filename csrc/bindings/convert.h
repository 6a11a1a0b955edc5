// The one protocol by which Python values cross into the C++ core: sequences of str become
// UTF-8 strings and sequences of token ids become int32 vectors, converted here rather than by
// pybind11's casters so that an error names the bad item and says what is wrong with it:
//   TypeError  "document 3 must be str, got None"
//   ValueError "pair 3: document is not valid Unicode (lone surrogate at character 5)"
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/pair_template.h"

namespace crossrank::bindings {

// How errors name the items of one Python sequence.
struct ItemNames {
  const char* sequence;  // the argument as a whole: "docs"
  const char* item;      // one of its items: "document"
  // "pair 3: document" where the sequence is one side of (query, document) pairs, else "document 3".
  bool pairs = false;
  // Index of the sequence's first item in the caller's list (the reranker feeds the engine in chunks).
  size_t first_index = 0;

  // The name of item `index` of the sequence.
  std::string operator()(size_t index) const;
};

// The UTF-8 bytes of a str; TypeError / ValueError naming it `name` otherwise.
std::string utf8_text(pybind11::handle text, const std::string& name);

// The UTF-8 bytes of every str in a sequence (not a str itself).
std::vector<std::string> utf8_texts(pybind11::handle texts, const ItemNames& names);

// Every item of a sequence as a list of token ids (Python ints or NumPy integers).
std::vector<std::vector<int32_t>> token_id_lists(pybind11::handle lists, const ItemNames& names);

// "only_second" / "longest_first"; ValueError otherwise.
Truncation truncation_from_name(const std::string& name);

// tokenizer.json's added tokens: dicts with content, id (and lstrip, rstrip, single_word, normalized),
// or tuples (content, id[, lstrip, rstrip, single_word, normalized]). Errors name "added token 3".
std::vector<AddedToken> added_tokens_from(pybind11::handle tokens);

// A pair template from its special token ids (sequences of int) and the two type ids.
PairTemplate pair_template_from(pybind11::handle prefix, pybind11::handle middle, pybind11::handle suffix,
                                int32_t type_id_a, int32_t type_id_b);

// A Python list of ints, built without pybind11's per-item casts.
pybind11::list int_list(const std::vector<int32_t>& values);

}  // namespace crossrank::bindings
