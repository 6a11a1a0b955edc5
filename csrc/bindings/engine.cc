#include <pybind11/numpy.h>

#include "bindings/convert.h"
#include "bindings/register.h"
#include "runtime/engine.h"

namespace py = pybind11;

namespace crossrank::bindings {
namespace {

// Logits as a float32 array [pairs, labels] plus the statistics of the call.
py::tuple to_python(ScoreResult&& result, size_t pairs) {
  const size_t labels = result.num_labels;
  py::array_t<float> logits({pairs, labels});
  std::copy(result.logits.begin(), result.logits.end(), logits.mutable_data());
  py::dict stats;
  stats["truncated_pairs"] = result.truncated_pairs;
  stats["query_truncated_pairs"] = result.query_truncated_pairs;
  stats["real_tokens"] = result.real_tokens;
  stats["padded_tokens"] = result.padded_tokens;
  stats["batches"] = result.batches;
  return py::make_tuple(std::move(logits), std::move(stats));
}

// Runs score(callback) without the GIL. Between batches the callback takes the GIL back to
// honour Ctrl-C and report progress to an optional Python callable. It is created and
// destroyed here, with the GIL held, because it owns a reference to that callable.
template <typename Score>
py::tuple score_released(const py::object& progress, size_t pairs, Score&& score) {
  const ProgressCallback callback = [progress](size_t done, size_t total) {
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (!progress.is_none()) progress(done, total);
  };
  ScoreResult result;
  {
    py::gil_scoped_release release;
    result = score(callback);
  }
  return to_python(std::move(result), pairs);
}

// Index of query_ids' first query in the caller's list: 0 where one query serves every document.
size_t query_index(py::handle query_ids, size_t first_index) {
  const Py_ssize_t count = PySequence_Check(query_ids.ptr()) ? PySequence_Size(query_ids.ptr()) : -1;
  if (count < 0) PyErr_Clear();  // not a sequence: token_id_lists says so
  return count == 1 ? 0 : first_index;
}

}  // namespace

void register_engine(py::module_& m) {
  py::class_<Engine, std::shared_ptr<Engine>>(m, "Engine")
      .def(py::init([](std::shared_ptr<WordPieceTokenizer> tokenizer, std::shared_ptr<OnnxSession> session,
                       size_t max_length, const std::string& truncation, size_t max_padded_tokens,
                       size_t max_batch_size, size_t batch_overhead_tokens, int64_t pad_id,
                       size_t concurrent_batches) {
             EngineConfig config;
             config.max_length = max_length;
             config.truncation = truncation_from_name(truncation);
             config.batch_policy.max_padded_tokens = max_padded_tokens;
             config.batch_policy.max_batch_size = max_batch_size;
             config.batch_policy.batch_overhead_tokens = batch_overhead_tokens;
             config.pad_id = pad_id;
             config.concurrent_batches = concurrent_batches;
             return std::make_shared<Engine>(std::move(tokenizer), std::move(session), config);
           }),
           py::arg("tokenizer"), py::arg("session"), py::arg("max_length"), py::arg("truncation"),
           py::arg("max_padded_tokens"), py::arg("max_batch_size"), py::arg("batch_overhead_tokens"),
           py::arg("pad_id"), py::arg("concurrent_batches") = 1)
      .def(
          "score",
          [](const Engine& engine, py::handle queries, py::handle docs, const py::object& progress,
             size_t first_index) {
            const std::vector<std::string> q = utf8_texts(queries, {"queries", "query", false, first_index});
            const std::vector<std::string> d = utf8_texts(docs, {"docs", "document", false, first_index});
            return score_released(progress, q.size(), [&](const ProgressCallback& callback) {
              return engine.score(q, d, callback);
            });
          },
          py::arg("queries"), py::arg("docs"), py::arg("progress") = py::none(), py::kw_only(),
          py::arg("first_index") = 0,
          "Score pairs; returns (logits float32 [pairs, labels], stats dict). Releases the GIL.\n"
          "first_index: index of the first pair in the caller's list, for the names in errors.")
      .def(
          "score_ids",
          [](const Engine& engine, py::handle query_ids, py::handle doc_ids, const py::object& progress,
             size_t first_index) {
            const size_t query_first = query_index(query_ids, first_index);
            const auto q = token_id_lists(query_ids, {"query_ids", "query", false, query_first});
            const auto d = token_id_lists(doc_ids, {"doc_ids", "document", false, first_index});
            return score_released(progress, d.size(), [&](const ProgressCallback& callback) {
              return engine.score_ids(q, d, callback, first_index);
            });
          },
          py::arg("query_ids"), py::arg("doc_ids"), py::arg("progress") = py::none(), py::kw_only(),
          py::arg("first_index") = 0,
          "Score pairs of token ids (no special tokens); one query may serve all documents.");
}

}  // namespace crossrank::bindings
