// Python bindings of crossrank::WordPieceTokenizer (module crossrank._native).
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
namespace {

AddedToken added_token_from(py::handle obj, size_t index) {
  const std::string content_name = "added token " + std::to_string(index) + ": content";
  AddedToken t;
  if (py::isinstance<py::dict>(obj)) {
    py::dict d = py::reinterpret_borrow<py::dict>(obj);
    if (!d.contains("content") || !d.contains("id")) {
      throw py::value_error("added token " + std::to_string(index) + " needs 'content' and 'id'");
    }
    t.content = utf8_text(d["content"], content_name);
    t.id = d["id"].cast<int32_t>();
    auto flag = [&](const char* key) { return d.contains(key) && d[key].cast<bool>(); };
    t.lstrip = flag("lstrip");
    t.rstrip = flag("rstrip");
    t.single_word = flag("single_word");
    t.normalized = flag("normalized");
    return t;
  }
  // (content, id[, lstrip, rstrip, single_word, normalized])
  py::tuple tup = py::reinterpret_borrow<py::object>(obj).cast<py::tuple>();
  if (tup.size() < 2 || tup.size() > 6) {
    throw py::value_error("added token " + std::to_string(index) +
                          " must be a dict or (content, id, lstrip, rstrip, single_word, normalized)");
  }
  t.content = utf8_text(tup[0], content_name);
  t.id = tup[1].cast<int32_t>();
  if (tup.size() > 2) t.lstrip = tup[2].cast<bool>();
  if (tup.size() > 3) t.rstrip = tup[3].cast<bool>();
  if (tup.size() > 4) t.single_word = tup[4].cast<bool>();
  if (tup.size() > 5) t.normalized = tup[5].cast<bool>();
  return t;
}

}  // namespace

void register_tokenizer(py::module_& m) {
  py::class_<WordPieceTokenizer, std::shared_ptr<WordPieceTokenizer>>(
      m, "WordPieceTokenizer",
      "BERT WordPiece pair tokenizer, bit-identical to Hugging Face tokenizers "
      "(BertNormalizer + BertPreTokenizer + WordPiece + [CLS] A [SEP] B [SEP]).")
      .def(py::init([](const py::sequence& vocab, const std::string& unk_token,
                       const std::string& continuing_subword_prefix, size_t max_input_chars_per_word,
                       bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase,
                       const py::sequence& added_tokens, int32_t cls_id, int32_t sep_id, int32_t type_id_a,
                       int32_t type_id_b) {
             TokenizerConfig c;
             c.vocab = utf8_texts(vocab, {"vocab", "vocab token"});
             c.unk_token = unk_token;
             c.continuing_subword_prefix = continuing_subword_prefix;
             c.max_input_chars_per_word = max_input_chars_per_word;
             c.clean_text = clean_text;
             c.handle_chinese_chars = handle_chinese_chars;
             c.strip_accents = strip_accents;
             c.lowercase = lowercase;
             size_t index = 0;
             for (py::handle t : added_tokens) c.added_tokens.push_back(added_token_from(t, index++));
             c.pair_template = PairTemplate{cls_id, sep_id, type_id_a, type_id_b};
             std::shared_ptr<WordPieceTokenizer> tokenizer;
             without_gil([&] { tokenizer = std::make_shared<WordPieceTokenizer>(std::move(c)); });
             return tokenizer;
           }),
           py::kw_only(), py::arg("vocab"), py::arg("unk_token") = "[UNK]",
           py::arg("continuing_subword_prefix") = "##", py::arg("max_input_chars_per_word") = 100,
           py::arg("clean_text") = true, py::arg("handle_chinese_chars") = true, py::arg("strip_accents") = true,
           py::arg("lowercase") = true, py::arg("added_tokens") = py::list(), py::arg("cls_id") = 101,
           py::arg("sep_id") = 102, py::arg("type_id_a") = 0, py::arg("type_id_b") = 1,
           "vocab[id] is the token string; added_tokens: dicts like tokenizer.json's "
           "(content, id, lstrip, rstrip, single_word, normalized) or tuples in that order.")
      .def(
          "encode",
          [](const WordPieceTokenizer& self, py::handle text) {
            std::string s = utf8_text(text, "text");
            std::vector<int32_t> ids;
            without_gil([&] { ids = self.encode(s); });
            return int_list(ids);
          },
          py::arg("text"), "Token ids of one text, without special tokens.")
      .def(
          "encode_pairs",
          [](const WordPieceTokenizer& self, py::handle queries, py::handle docs, size_t max_length,
             const std::string& truncation, bool pair_names) {
            const Truncation trunc = truncation_from_name(truncation);
            if (max_length < 4) throw py::value_error("max_length must be >= 4, got " + std::to_string(max_length));
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
      .def_property_readonly("vocab_size", [](const WordPieceTokenizer& self) { return self.config().vocab.size(); })
      .def_property_readonly("cls_id",
                             [](const WordPieceTokenizer& self) { return self.config().pair_template.cls_id; })
      .def_property_readonly("sep_id",
                             [](const WordPieceTokenizer& self) { return self.config().pair_template.sep_id; });
}

}  // namespace crossrank::bindings
