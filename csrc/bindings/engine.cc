#include <pybind11/numpy.h>

#include <memory>

#include "bindings/convert.h"
#include "bindings/gil.h"
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

// Runs score(poll) without the GIL (see without_gil). The engine calls poll
// from this thread every kPollInterval: it takes the GIL to honour Ctrl-C and to report progress
// to an optional Python callable, unless the interpreter is exiting; then it stops the call.
// cancel (a CancelToken or None) stops the call from any thread; so does the exit handler (gil.h).
template <typename Score>
auto run_released(const py::object& progress, const py::object& cancel, Score&& score) {
  PyObject* const callable = progress.ptr();  // borrowed: the caller's reference outlives the call
  const ProgressCallback poll = [callable](size_t done, size_t total) {
    if (exit_stops_this_thread()) throw Cancelled();
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (callable != Py_None) py::handle{callable}(done, total);
  };
  const std::shared_ptr<CancelSource> source =
      cancel.is_none() ? std::make_shared<CancelSource>() : cancel.cast<std::shared_ptr<CancelSource>>();
  decltype(score(poll, source.get())) result;
  without_gil([&] { result = score(poll, source.get()); }, source.get());
  return result;
}

template <typename Score>
py::tuple score_released(const py::object& progress, const py::object& cancel, size_t pairs, Score&& score) {
  return to_python(run_released(progress, cancel, std::forward<Score>(score)), pairs);
}

// (logits [windows, labels], stats, doc_offsets int64 [docs + 1], spans int64 [windows, 2]).
py::tuple windows_to_python(WindowedResult&& result) {
  const size_t windows = result.doc_offsets.back();
  py::array_t<int64_t> offsets(result.doc_offsets.size());
  std::copy(result.doc_offsets.begin(), result.doc_offsets.end(), offsets.mutable_data());
  py::array_t<int64_t> spans({windows, size_t{2}});
  std::copy(result.spans.begin(), result.spans.end(), spans.mutable_data());
  py::tuple scored = to_python(std::move(result.scores), windows);
  py::dict stats = scored[1];
  stats["truncated_docs"] = result.truncated_docs;
  stats["capped_docs"] = result.capped_docs;
  stats["max_windows_docs"] = result.max_windows_docs;
  return py::make_tuple(scored[0], stats, std::move(offsets), std::move(spans));
}

// Index of query_ids' first query in the caller's list: 0 where one query serves every document.
size_t query_index(py::handle query_ids, size_t first_index) {
  const Py_ssize_t count = PySequence_Check(query_ids.ptr()) ? PySequence_Size(query_ids.ptr()) : -1;
  if (count < 0) PyErr_Clear();  // not a sequence: token_id_lists says so
  return count == 1 ? 0 : first_index;
}

}  // namespace

void register_engine(py::module_& m) {
  py::register_exception<Cancelled>(m, "Cancelled", PyExc_RuntimeError);
  py::class_<CancelSource, std::shared_ptr<CancelSource>>(m, "CancelToken",
                                                          "Stops the one scoring call it is passed to.")
      .def(py::init<>())
      .def("cancel", &CancelSource::request,
           "Stop the call from any thread: between pairs, and inside a graph run between operators.")
      .def_property_readonly("cancelled", &CancelSource::requested);
  m.def(
      "window_spans",
      [](size_t tokens, size_t window, size_t stride) {
        py::list out;
        for (const auto& [begin, end] : window_spans(tokens, window, stride)) out.append(py::make_tuple(begin, end));
        return out;
      },
      py::arg("tokens"), py::arg("window"), py::arg("stride"),
        "The engine's windows over a document of this many tokens: [(begin, end)], starts 0, stride, "
        "2 stride ... until a window reaches the end (one window when tokens <= window).");
  py::class_<Engine, std::shared_ptr<Engine>>(m, "Engine")
      .def(py::init([](std::shared_ptr<PairTokenizer> tokenizer, std::shared_ptr<OnnxSession> session,
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
             size_t first_index, const py::object& cancel) {
            const std::vector<std::string> q = utf8_texts(queries, {"queries", "query", false, first_index});
            const std::vector<std::string> d = utf8_texts(docs, {"docs", "document", false, first_index});
            return score_released(progress, cancel, q.size(), [&](const ProgressCallback& poll, CancelSource* source) {
              return engine.score(q, d, poll, source);
            });
          },
          py::arg("queries"), py::arg("docs"), py::arg("progress") = py::none(), py::kw_only(),
          py::arg("first_index") = 0, py::arg("cancel") = py::none(),
          "Score pairs; returns (logits float32 [pairs, labels], stats dict). Releases the GIL.\n"
          "first_index: index of the first pair in the caller's list, for the names in errors.\n"
          "cancel: a CancelToken; its cancel() stops the call from any thread (raises Cancelled).")
      .def(
          "score_ids",
          [](const Engine& engine, py::handle query_ids, py::handle doc_ids, const py::object& progress,
             size_t first_index, const py::object& cancel) {
            const size_t query_first = query_index(query_ids, first_index);
            const auto q = token_id_lists(query_ids, {"query_ids", "query", false, query_first});
            const auto d = token_id_lists(doc_ids, {"doc_ids", "document", false, first_index});
            return score_released(progress, cancel, d.size(), [&](const ProgressCallback& poll, CancelSource* source) {
              return engine.score_ids(q, d, poll, first_index, source);
            });
          },
          py::arg("query_ids"), py::arg("doc_ids"), py::arg("progress") = py::none(), py::kw_only(),
          py::arg("first_index") = 0, py::arg("cancel") = py::none(),
          "Score pairs of token ids (no special tokens); one query may serve all documents.")
      .def(
          "score_windows",
          [](const Engine& engine, py::handle queries, py::handle docs, const py::object& progress,
             size_t first_index, const py::object& cancel, bool windows, size_t window, size_t stride,
             size_t max_windows, size_t max_tokens_per_doc) {
            const std::vector<std::string> q = utf8_texts(queries, {"queries", "query", false, first_index});
            const std::vector<std::string> d = utf8_texts(docs, {"docs", "document", false, first_index});
            const WindowOptions options{windows, window, stride, max_windows, max_tokens_per_doc};
            return windows_to_python(run_released(progress, cancel, [&](const ProgressCallback& poll, CancelSource* source) {
              return engine.score_windows(q, d, options, poll, source);
            }));
          },
          py::arg("queries"), py::arg("docs"), py::arg("progress") = py::none(), py::kw_only(),
          py::arg("first_index") = 0, py::arg("cancel") = py::none(), py::arg("windows") = true,
          py::arg("window") = 0, py::arg("stride") = 0, py::arg("max_windows") = 16,
          py::arg("max_tokens_per_doc") = 0,
          "Score each document's windows (token spans of window, every stride) against its query in one\n"
          "call; returns (logits [windows, labels], stats, doc_offsets [docs + 1], spans [windows, 2]).\n"
          "window 0: what fits after the query; stride 0: window * 3 / 4; max_tokens_per_doc 0: no cap;\n"
          "windows=False: one pair per document truncated as in score(). Releases the GIL.");
}

}  // namespace crossrank::bindings
