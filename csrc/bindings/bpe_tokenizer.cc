// Python bindings of crossrank::ByteLevelBpeTokenizer (module crossrank._native); the methods are
// the base class PairTokenizer's (tokenizer.cc).
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings/convert.h"
#include "bindings/gil.h"
#include "bindings/register.h"
#include "tokenizer/bpe/bpe_tokenizer.h"

namespace py = pybind11;

namespace crossrank::bindings {
namespace {

// model.vocab: a dict token -> id.
std::vector<std::pair<std::string, int32_t>> vocab_from(const py::dict& vocab) {
  std::vector<std::pair<std::string, int32_t>> out;
  out.reserve(vocab.size());
  size_t index = 0;
  for (auto item : vocab) {
    const std::string name = "vocab token " + std::to_string(index++);
    out.emplace_back(utf8_text(item.first, name), item.second.cast<int32_t>());
  }
  return out;
}

// model.merges: (left, right) pairs of strings, in rank order.
std::vector<std::pair<std::string, std::string>> merges_from(const py::sequence& merges) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string name = "merge " + std::to_string(i);
    py::sequence pair = py::reinterpret_borrow<py::object>(merges[i]).cast<py::sequence>();
    if (py::isinstance<py::str>(pair) || pair.size() != 2) {
      throw py::value_error(name + " must be a (left, right) pair");
    }
    out.emplace_back(utf8_text(pair[0], name + ": left"), utf8_text(pair[1], name + ": right"));
  }
  return out;
}

}  // namespace

void register_bpe_tokenizer(py::module_& m) {
  py::class_<ByteLevelBpeTokenizer, PairTokenizer, std::shared_ptr<ByteLevelBpeTokenizer>>(
      m, "ByteLevelBpeTokenizer",
      "Byte-level BPE pair tokenizer (ModernBERT, GPT-NeoX, RoBERTa), bit-identical to Hugging Face "
      "tokenizers (normalizer none or NFC + ByteLevel + BPE + a pair template).")
      .def(py::init([](const py::dict& vocab, const py::sequence& merges, const py::object& unk_token,
                       const std::string& continuing_subword_prefix, const std::string& end_of_word_suffix,
                       bool fuse_unk, bool byte_fallback, bool ignore_merges, bool nfc, bool add_prefix_space,
                       bool use_regex, const py::sequence& added_tokens, const py::sequence& prefix,
                       const py::sequence& middle, const py::sequence& suffix, int32_t type_id_a,
                       int32_t type_id_b) {
             ByteLevelBpeConfig c;
             c.model.vocab = vocab_from(vocab);
             c.model.merges = merges_from(merges);
             if (!unk_token.is_none()) c.model.unk_token = utf8_text(unk_token, "unk_token");
             c.model.continuing_subword_prefix = continuing_subword_prefix;
             c.model.end_of_word_suffix = end_of_word_suffix;
             c.model.fuse_unk = fuse_unk;
             c.model.byte_fallback = byte_fallback;
             c.model.ignore_merges = ignore_merges;
             c.nfc = nfc;
             c.add_prefix_space = add_prefix_space;
             c.use_regex = use_regex;
             c.added_tokens = added_tokens_from(added_tokens);
             PairTemplate pair = pair_template_from(prefix, middle, suffix, type_id_a, type_id_b);
             std::shared_ptr<ByteLevelBpeTokenizer> tokenizer;
             without_gil([&] { tokenizer = std::make_shared<ByteLevelBpeTokenizer>(std::move(c), std::move(pair)); });
             return tokenizer;
           }),
           py::kw_only(), py::arg("vocab"), py::arg("merges"), py::arg("unk_token") = py::none(),
           py::arg("continuing_subword_prefix") = "", py::arg("end_of_word_suffix") = "",
           py::arg("fuse_unk") = false, py::arg("byte_fallback") = false, py::arg("ignore_merges") = false,
           py::arg("nfc") = false, py::arg("add_prefix_space") = false, py::arg("use_regex") = true,
           py::arg("added_tokens") = py::list(), py::arg("prefix"), py::arg("middle"), py::arg("suffix"),
           py::arg("type_id_a") = 0, py::arg("type_id_b") = 1,
           "vocab: dict token -> id; merges: (left, right) pairs in rank order; nfc: the NFC normalizer "
           "(else none); add_prefix_space / use_regex: ByteLevel's; added_tokens as for WordPieceTokenizer; "
           "prefix / middle / suffix: the pair template's special token ids.");
}

}  // namespace crossrank::bindings
