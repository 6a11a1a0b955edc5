// Python binding of crossrank::UnigramTokenizer (SentencePiece Unigram: XLM-RoBERTa and its family).
// Its methods are the base class's (_native.PairTokenizer, tokenizer.cc); this file only builds one.
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings/convert.h"
#include "bindings/gil.h"
#include "bindings/register.h"
#include "tokenizer/unigram/unigram_tokenizer.h"

namespace py = pybind11;

namespace crossrank::bindings {
namespace {

std::vector<double> scores_from(py::handle scores) {
  std::vector<double> out;
  size_t index = 0;
  for (py::handle item : py::iter(scores)) {
    if (!PyFloat_Check(item.ptr()) && !PyLong_Check(item.ptr())) {
      throw py::type_error("score " + std::to_string(index) + " must be a number, got " +
                           std::string(Py_TYPE(item.ptr())->tp_name));
    }
    out.push_back(item.cast<double>());
    ++index;
  }
  return out;
}

// One normalizer step from a dict {"kind": "precompiled" | "strip" | "replace" | "space_run", ...}.
NormalizerStep step_from(py::handle item, size_t index) {
  const std::string where = "normalizer step " + std::to_string(index);
  if (!py::isinstance<py::dict>(item)) throw py::type_error(where + " must be a dict");
  const py::dict d = py::reinterpret_borrow<py::dict>(item);
  if (!d.contains("kind")) throw py::value_error(where + " has no 'kind'");
  const std::string kind = py::str(d["kind"]);
  NormalizerStep step;
  if (kind == "precompiled") {
    step.kind = NormalizerStep::Kind::kPrecompiled;
    if (!d.contains("charsmap") || !py::isinstance<py::bytes>(d["charsmap"])) {
      throw py::type_error(where + " (precompiled) needs 'charsmap' bytes");
    }
    const std::string blob = py::bytes(d["charsmap"]);
    try {
      step.charsmap = std::make_shared<const PrecompiledCharsmap>(blob);
    } catch (const std::invalid_argument& e) {
      throw py::value_error(where + " (Precompiled): " + e.what() +
                            "; the charsmap is damaged: save the tokenizer again from its source");
    }
  } else if (kind == "strip") {
    step.kind = NormalizerStep::Kind::kStrip;
    step.strip_left = d.contains("left") && py::bool_(d["left"]);
    step.strip_right = d.contains("right") && py::bool_(d["right"]);
  } else if (kind == "replace" || kind == "space_run") {
    step.kind = kind == "replace" ? NormalizerStep::Kind::kReplace : NormalizerStep::Kind::kReplaceSpaceRun;
    if (!d.contains("content")) throw py::value_error(where + " (" + kind + ") needs 'content'");
    step.content = utf8_text(d["content"], where + " content");
    if (kind == "replace") {
      if (!d.contains("pattern")) throw py::value_error(where + " (replace) needs 'pattern'");
      step.pattern = utf8_text(d["pattern"], where + " pattern");
    } else {
      step.min_run = d.contains("min_run") ? d["min_run"].cast<size_t>() : 2;
    }
  } else {
    throw py::value_error(where + ": kind must be precompiled, strip, replace or space_run, got '" + kind + "'");
  }
  return step;
}

PrependScheme scheme_from(const std::string& name) {
  if (name == "always") return PrependScheme::kAlways;
  if (name == "first") return PrependScheme::kFirst;
  if (name == "never") return PrependScheme::kNever;
  throw py::value_error("prepend_scheme must be 'always', 'first' or 'never', got '" + name + "'");
}

}  // namespace

void register_unigram_tokenizer(py::module_& m) {
  py::class_<UnigramTokenizer, PairTokenizer, std::shared_ptr<UnigramTokenizer>>(
      m, "UnigramTokenizer",
      "SentencePiece Unigram pair tokenizer (XLM-RoBERTa family), bit-identical to Hugging Face tokenizers "
      "(normalizer steps + Metaspace + Unigram + a pair template).")
      .def(py::init([](py::handle pieces, py::handle scores, int32_t unk_id, bool byte_fallback,
                       py::handle normalizers, const std::string& replacement, const std::string& prepend_scheme,
                       bool split, py::handle added_tokens, py::handle prefix, py::handle middle,
                       py::handle suffix, int32_t type_id_a, int32_t type_id_b) {
             UnigramVocab vocab{utf8_texts(pieces, {"pieces", "piece"}), scores_from(scores), unk_id, byte_fallback};
             std::vector<NormalizerStep> steps;
             size_t index = 0;
             for (py::handle item : py::iter(normalizers)) steps.push_back(step_from(item, index++));
             MetaspaceConfig metaspace{utf8_text(py::str(replacement), "replacement"), scheme_from(prepend_scheme),
                                       split};
             std::vector<AddedToken> added = added_tokens_from(added_tokens);
             PairTemplate pair = pair_template_from(prefix, middle, suffix, type_id_a, type_id_b);
             std::shared_ptr<UnigramTokenizer> tokenizer;
             without_gil([&] {
               UnigramPipeline pipeline(SpmNormalizer(std::move(steps)), std::move(metaspace),
                                        UnigramModel(std::move(vocab)));
               tokenizer = std::make_shared<UnigramTokenizer>(std::move(pair), std::move(pipeline), added);
             });
             return tokenizer;
           }),
           py::kw_only(), py::arg("pieces"), py::arg("scores"), py::arg("unk_id") = -1,
           py::arg("byte_fallback") = false, py::arg("normalizers") = py::list(),
           py::arg("replacement") = "\u2581", py::arg("prepend_scheme") = "always", py::arg("split") = true,
           py::arg("added_tokens") = py::list(), py::arg("prefix") = py::make_tuple(0),
           py::arg("middle") = py::make_tuple(2, 2), py::arg("suffix") = py::make_tuple(2),
           py::arg("type_id_a") = 0, py::arg("type_id_b") = 0,
           "pieces[id] / scores[id]: the Unigram vocabulary; unk_id -1: none. normalizers: dicts in order, "
           "{'kind': 'precompiled', 'charsmap': bytes}, {'kind': 'strip', 'left': bool, 'right': bool}, "
           "{'kind': 'replace', 'pattern': str, 'content': str}, {'kind': 'space_run', 'min_run': int, "
           "'content': str}. Metaspace: replacement, prepend_scheme ('always', 'first', 'never'), split. "
           "added_tokens as for WordPieceTokenizer; prefix / middle / suffix: the pair template's special "
           "token ids (<s> A </s></s> B </s> by default).");
}

}  // namespace crossrank::bindings
