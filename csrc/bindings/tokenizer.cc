// Python bindings of crossrank::PairTokenizer (the base every algorithm shares) and
// crossrank::WordPieceTokenizer (module crossrank._native).
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings/convert.h"
#include "bindings/gil.h"
#include "bindings/register.h"
#include "tokenizer/wordpiece/wordpiece_tokenizer.h"

namespace py = pybind11;

namespace crossrank::bindings {

void register_tokenizer(py::module_& m) {
  // The base class: what every algorithm answers (the engine takes any of them).
  py::class_<PairTokenizer, std::shared_ptr<PairTokenizer>>(
      m, "PairTokenizer", "A pair tokenizer of the C++ core; build one of its algorithm classes.")
      .def(
          "encode",
          [](const PairTokenizer& self, py::handle text) {
            std::string s = utf8_text(text, "text");
            std::vector<int32_t> ids;
            without_gil([&] { ids = self.encode(s); });
            return int_list(ids);
          },
          py::arg("text"), "Token ids of one text, without special tokens.")
      .def(
          "encode_pairs",
          [](const PairTokenizer& self, py::handle queries, py::handle docs, size_t max_length,
             const std::string& truncation, bool pair_names) {
            const Truncation trunc = truncation_from_name(truncation);
            const size_t least = self.pair_template().min_max_length();
            if (max_length < least) {
              throw py::value_error("max_length must be >= " + std::to_string(least) + " (" +
                                    std::to_string(least - 1) + " special tokens + 1), got " +
                                    std::to_string(max_length));
            }
            const std::vector<std::string> q = utf8_texts(queries, {"queries", "query", pair_names});
            const std::vector<std::string> d = utf8_texts(docs, {"docs", "document", pair_names});
            if (q.size() != d.size()) {
              throw py::value_error("queries and documents differ in length (" + std::to_string(q.size()) +
                                    " vs " + std::to_string(d.size()) + ")");
            }
            std::vector<PairEncoding> encs(q.size());
            without_gil([&] {
              for (size_t i = 0; i < q.size(); ++i) encs[i] = self.encode_pair(q[i], d[i], max_length, trunc);
            });
            py::list out(encs.size());
            for (size_t i = 0; i < encs.size(); ++i) {
              py::tuple t = py::make_tuple(int_list(encs[i].ids), int_list(encs[i].type_ids),
                                           py::bool_(encs[i].truncated), py::bool_(encs[i].query_truncated));
              PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), t.release().ptr());
            }
            return out;
          },
          py::arg("queries"), py::arg("docs"), py::arg("max_length"), py::arg("truncation") = "only_second",
          py::kw_only(), py::arg("pair_names") = false,
          "[(ids, type_ids, truncated, query_truncated)] for each (query, document); "
          "truncation is 'only_second' or 'longest_first'. Errors name a bad item 'query 3', or "
          "'pair 3: query' with pair_names=True (the queries and docs came from pairs).")
      .def_property_readonly("vocab_size", &PairTokenizer::vocab_size)
      .def_property_readonly("id_limit", &PairTokenizer::id_limit,
                             "One past the largest id the tokenizer or its template can produce.")
      .def_property_readonly("special_count",
                             [](const PairTokenizer& self) { return self.pair_template().special_count(); },
                             "Special tokens in a pair (max_length must leave room for them and one more).")
      .def_property_readonly("prefix", [](const PairTokenizer& self) { return int_list(self.pair_template().prefix); },
                             "Special token ids before the query ([CLS] / <s>).")
      .def_property_readonly("middle", [](const PairTokenizer& self) { return int_list(self.pair_template().middle); },
                             "Special token ids between query and document.")
      .def_property_readonly("suffix", [](const PairTokenizer& self) { return int_list(self.pair_template().suffix); },
                             "Special token ids after the document.");

  py::class_<WordPieceTokenizer, PairTokenizer, std::shared_ptr<WordPieceTokenizer>>(
      m, "WordPieceTokenizer",
      "BERT WordPiece pair tokenizer, bit-identical to Hugging Face tokenizers "
      "(BertNormalizer + BertPreTokenizer + WordPiece + a pair template).")
      .def(py::init([](const py::sequence& vocab, const std::string& unk_token,
                       const std::string& continuing_subword_prefix, size_t max_input_chars_per_word,
                       bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase,
                       const py::sequence& added_tokens, const py::sequence& prefix, const py::sequence& middle,
                       const py::sequence& suffix, int32_t type_id_a, int32_t type_id_b) {
             WordPieceConfig c;
             c.vocab = utf8_texts(vocab, {"vocab", "vocab token"});
             c.unk_token = unk_token;
             c.continuing_subword_prefix = continuing_subword_prefix;
             c.max_input_chars_per_word = max_input_chars_per_word;
             c.clean_text = clean_text;
             c.handle_chinese_chars = handle_chinese_chars;
             c.strip_accents = strip_accents;
             c.lowercase = lowercase;
             c.added_tokens = added_tokens_from(added_tokens);
             c.pair_template = pair_template_from(prefix, middle, suffix, type_id_a, type_id_b);
             std::shared_ptr<WordPieceTokenizer> tokenizer;
             without_gil([&] { tokenizer = std::make_shared<WordPieceTokenizer>(std::move(c)); });
             return tokenizer;
           }),
           py::kw_only(), py::arg("vocab"), py::arg("unk_token") = "[UNK]",
           py::arg("continuing_subword_prefix") = "##", py::arg("max_input_chars_per_word") = 100,
           py::arg("clean_text") = true, py::arg("handle_chinese_chars") = true, py::arg("strip_accents") = true,
           py::arg("lowercase") = true, py::arg("added_tokens") = py::list(),
           py::arg("prefix") = py::make_tuple(101), py::arg("middle") = py::make_tuple(102),
           py::arg("suffix") = py::make_tuple(102), py::arg("type_id_a") = 0, py::arg("type_id_b") = 1,
           "vocab[id] is the token string; added_tokens: dicts like tokenizer.json's "
           "(content, id, lstrip, rstrip, single_word, normalized) or tuples in that order; "
           "prefix / middle / suffix: the pair template's special token ids ([CLS] A [SEP] B [SEP] by default).");
}

}  // namespace crossrank::bindings
