// crossrank._native.testing: the core's parts on their own, for tests against reference
// implementations (NumPy, Hugging Face tokenizers); the package itself never calls them.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bindings/convert.h"
#include "bindings/gil.h"
#include "bindings/register.h"
#include "kernels/gelu.h"
#include "kernels/layer_norm.h"
#include "kernels/matmul_bf16.h"
#include "kernels/matmul_int8.h"
#include "kernels/self_attention.h"
#include "runtime/batcher.h"
#include "runtime/engine.h"
#include "tokenizer/bert_normalizer.h"
#include "tokenizer/pair_tokenizer.h"
#include "tokenizer/utf8.h"

namespace py = pybind11;

namespace crossrank::bindings {
namespace {

void register_tokenizer_parts(py::module_& testing) {
  testing.def(
      "bert_normalize",
      [](py::handle text, bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase) {
        const std::string s = utf8_text(text, "text");
        std::vector<char32_t> cps;
        std::vector<char32_t> out;
        std::vector<char32_t> scratch;
        size_t bad = 0;
        utf8::decode(s, cps, &bad);  // valid: it came from a str
        BertNormalizerOptions o;
        o.clean_text = clean_text;
        o.handle_chinese_chars = handle_chinese_chars;
        o.strip_accents = strip_accents;
        o.lowercase = lowercase;
        BertNormalizer(o).normalize(cps.data(), cps.size(), out, scratch);
        std::string result;
        for (char32_t c : out) utf8::append(result, c);
        return py::str(result);
      },
      py::arg("text"), py::kw_only(), py::arg("clean_text") = true, py::arg("handle_chinese_chars") = true,
      py::arg("strip_accents") = true, py::arg("lowercase") = true,
      "The C++ BertNormalizer alone: what tokenizers' BertNormalizer.normalize_str returns.");
  testing.def(
      "encode_prefix",
      [](const PairTokenizer& tokenizer, py::handle text, size_t max_tokens) {
        const std::string s = utf8_text(text, "text");
        bool cut = false;
        std::vector<int32_t> ids;
        without_gil([&] { ids = tokenizer.encode_prefix(s, max_tokens, &cut); });
        return py::make_tuple(int_list(ids), cut);
      },
      py::arg("tokenizer"), py::arg("text"), py::arg("max_tokens"),
      "(the first max_tokens ids of tokenizer.encode(text), whether it had more), tokenizing only that far.");
  testing.def("tokenized_bytes", &tokenized_bytes,
              "Bytes of text the C++ tokenizers have read since the process started (all threads).");
}

void register_batcher(py::module_& testing) {
  testing.def(
      "plan_batches",
      [](const std::vector<size_t>& lengths, size_t max_padded_tokens, size_t max_batch_size,
         size_t batch_overhead_tokens) {
        BatchPolicy policy{max_padded_tokens, max_batch_size, batch_overhead_tokens};
        std::vector<std::pair<std::vector<size_t>, size_t>> out;
        for (Batch& batch : plan_batches(lengths, policy)) {
          out.emplace_back(std::move(batch.indices), batch.padded_length);
        }
        return out;
      },
      py::arg("lengths"), py::arg("max_padded_tokens"), py::arg("max_batch_size"),
      py::arg("batch_overhead_tokens") = BatchPolicy{}.batch_overhead_tokens,
      "The engine's batch plan for these lengths: [(indices, padded_length)].");
}

// crossrank's kernels on their own; graphs reach them through the ai.crossrank operators instead
// (runtime/custom_ops.h).
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// A · B + bias on a packed GEMM (WEIGHTS packs B and the bias; ROWS_FN runs rows with SCRATCH_SIZE's
// elements of scratch), after checking the shapes.
template <typename Weights, typename Scratch, typename ScratchSize, typename Rows>
py::array_t<float> packed_gemm(const FloatArray& a, const FloatArray& b, const std::optional<FloatArray>& bias,
                               const std::string& activation, ScratchSize scratch_size, Rows rows_fn) {
  if (a.ndim() != 2 || b.ndim() != 2 || a.shape(1) != b.shape(0) || b.shape(0) == 0 || b.shape(1) == 0) {
    throw std::invalid_argument("a must be [rows, depth] and b [depth, columns], depth and columns positive");
  }
  if (bias && (bias->ndim() != 1 || bias->shape(0) != b.shape(1))) throw std::invalid_argument("bias must be [columns]");
  if (activation != "" && activation != "gelu") throw std::invalid_argument("activation must be '' or 'gelu'");
  const Weights weights(b.data(), b.shape(0), b.shape(1), bias ? bias->data() : nullptr,
                        activation == "gelu" ? Activation::kGelu : Activation::kNone);
  py::array_t<float> out({a.shape(0), b.shape(1)});
  const float* x = a.data();
  float* result = out.mutable_data();
  const int64_t rows = a.shape(0);
  without_gil([&] {
    std::vector<uint64_t> buffer((scratch_size(weights.shape()) * sizeof(Scratch) + 7) / 8);  // 8-byte aligned
    rows_fn(weights, x, 0, rows, result, reinterpret_cast<Scratch*>(buffer.data()));
  });
  return out;
}

// Seconds per A · B on a packed GEMM: THREADS threads take whole row chunks t, t + threads, ... as
// ONNX Runtime's ParallelFor would hand them out, REPEATS calls without a barrier between them.
template <typename Scratch, typename Weights, typename Rows>
double gemm_seconds(const FloatArray& a, const Weights& weights,
                    size_t scratch_elements, int64_t chunk, Rows rows_fn, int64_t repeats, int64_t threads) {
  const int64_t rows = a.shape(0);
  std::vector<float> out(static_cast<size_t>(rows * weights.shape().columns));
  const float* x = a.data();
  double seconds = 0.0;
  without_gil([&] {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int64_t t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        std::vector<uint64_t> buffer((scratch_elements * sizeof(Scratch) + 7) / 8);  // 8-byte aligned
        auto* scratch = reinterpret_cast<Scratch*>(buffer.data());
        for (int64_t r = 0; r < repeats; ++r) {
          for (int64_t first = t * chunk; first < rows; first += threads * chunk) {
            rows_fn(weights, x, first, std::min(rows, first + chunk), out.data(), scratch);
          }
        }
      });
    }
    for (std::thread& w : workers) w.join();
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
  });
  return seconds;
}

void register_kernels(py::module_& testing) {
  testing.def(
      "self_attention",
      [](py::array_t<float, py::array::c_style | py::array::forcecast> qkv,
         py::array_t<int32_t, py::array::c_style | py::array::forcecast> key_lengths, int64_t num_heads,
         bool portable, int64_t query_rows, bool bf16) {
        if (qkv.ndim() != 3 || num_heads <= 0 || qkv.shape(2) % (3 * num_heads) != 0) {
          throw std::invalid_argument("qkv must be [batch, sequence, 3 * num_heads * head_size]");
        }
        if (key_lengths.ndim() != 1 || key_lengths.shape(0) != qkv.shape(0)) {
          throw std::invalid_argument("key_lengths must hold one length per sequence");
        }
        if (query_rows < 0) throw std::invalid_argument("query_rows must be 0 (every position) or positive");
        const AttentionShape shape{qkv.shape(0), qkv.shape(1), num_heads, qkv.shape(2) / (3 * num_heads), query_rows,
                                   bf16};
        py::array_t<float> out({shape.batch, shape.output_rows(), shape.hidden()});
        const float* in = qkv.data();
        const int32_t* lengths = key_lengths.data();
        float* result = out.mutable_data();
        without_gil([&] {
          std::vector<float> scratch(attention_scratch_floats(shape));
          for (int64_t unit = 0; unit < shape.units(); ++unit) {
            if (portable) {
              self_attention_unit_portable(shape, in, lengths, unit, result, scratch.data());
            } else {
              self_attention_unit(shape, in, lengths, unit, result, scratch.data());
            }
          }
        });
        return out;
      },
      py::arg("qkv"), py::arg("key_lengths"), py::arg("num_heads"), py::arg("portable") = false,
      py::arg("query_rows") = 0, py::arg("bf16") = false,
      "softmax(Q·Kᵀ/√d)·V per head over packed projections; rows past a sequence's length are zeros.\n"
      "portable=True runs the plain-loop fallback instead of the CPU's fastest kernel; query_rows > 0\n"
      "computes only that many leading query positions (the output's rows per sequence); bf16=True\n"
      "multiplies in bf16 where the CPU has AVX512-BF16 (the portable loops stay fp32).");
  testing.def(
      "gelu",
      [](py::array_t<float, py::array::c_style | py::array::forcecast> x, bool portable) {
        py::array_t<float> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
        const float* in = x.data();
        float* result = out.mutable_data();
        const int64_t count = x.size();
        without_gil([&] { (portable ? gelu_portable : gelu)(in, result, count); });
        return out;
      },
      py::arg("x"), py::arg("portable") = false,
      "x·Φ(x), the erf GELU; portable=True runs the plain-loop fallback.");
  testing.def(
      "add_layer_norm",
      [](py::array_t<float, py::array::c_style | py::array::forcecast> x,
         py::array_t<float, py::array::c_style | py::array::forcecast> residual,
         py::array_t<float, py::array::c_style | py::array::forcecast> gamma,
         py::array_t<float, py::array::c_style | py::array::forcecast> beta, float epsilon, bool portable) {
        if (x.ndim() != 2 || residual.ndim() != 2 || x.shape(0) != residual.shape(0) ||
            x.shape(1) != residual.shape(1) || gamma.size() != x.shape(1) || beta.size() != x.shape(1)) {
          throw std::invalid_argument("x and residual must be [rows, width], gamma and beta [width]");
        }
        const LayerNormShape shape{x.shape(0), x.shape(1)};
        py::array_t<float> out({shape.rows, shape.width});
        const float *a = x.data(), *b = residual.data(), *g = gamma.data(), *h = beta.data();
        float* result = out.mutable_data();
        without_gil([&] {
          (portable ? add_layer_norm_portable : add_layer_norm)(shape, a, b, g, h, epsilon, result, 0, shape.rows);
        });
        return out;
      },
      py::arg("x"), py::arg("residual"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"),
      py::arg("portable") = false, "LayerNormalization(x + residual) over rows; portable=True: the fallback.");
  testing.def(
      "matmul_bf16",
      [](const FloatArray& a, const FloatArray& b, const std::optional<FloatArray>& bias, bool portable,
         const std::string& activation) {
        return packed_gemm<PackedBf16Weights, uint32_t>(a, b, bias, activation, matmul_bf16_scratch_words,
                                                        portable ? matmul_bf16_rows_portable : matmul_bf16_rows);
      },
      py::arg("a"), py::arg("b"), py::arg("bias") = py::none(), py::arg("portable") = false, py::arg("activation") = "",
      "a · b + bias with a and b rounded to bf16 (to nearest even) and fp32 sums; portable=True runs the\n"
      "plain-loop fallback instead of AVX512-BF16 (which runs only where the CPU has it); activation='gelu'\n"
      "applies GELU as the result is stored.");
  testing.def(
      "matmul_int8_token",
      [](const FloatArray& a, const FloatArray& b, const std::optional<FloatArray>& bias, bool portable,
         const std::string& activation) {
        return packed_gemm<PackedInt8Weights, uint8_t>(a, b, bias, activation, matmul_int8_scratch_bytes,
                                                       portable ? matmul_int8_rows_portable : matmul_int8_rows);
      },
      py::arg("a"), py::arg("b"), py::arg("bias") = py::none(), py::arg("portable") = false, py::arg("activation") = "",
      "a · b + bias with each row of a and each column of b quantized to symmetric int8 (absmax / 127,\n"
      "to nearest even) and exact int32 sums; portable=True runs the plain-loop fallback instead of\n"
      "AVX512-VNNI (which runs only where the CPU has it); activation='gelu' applies GELU as the result is stored.");
  testing.def(
      "matmul_seconds",
      [](const FloatArray& a, const FloatArray& b, int64_t repeats, int64_t threads, const std::string& kernel) {
        if (a.ndim() != 2 || b.ndim() != 2 || a.shape(1) != b.shape(0) || repeats < 1 || threads < 1) {
          throw std::invalid_argument("a [rows, depth], b [depth, columns], repeats and threads positive");
        }
        if (kernel == "bf16") {
          const PackedBf16Weights weights(b.data(), b.shape(0), b.shape(1), nullptr);
          return gemm_seconds<uint32_t>(a, weights, matmul_bf16_scratch_words(weights.shape()), kBf16RowChunk,
                                        matmul_bf16_rows, repeats, threads);
        }
        if (kernel == "int8_token") {
          const PackedInt8Weights weights(b.data(), b.shape(0), b.shape(1), nullptr);
          return gemm_seconds<uint8_t>(a, weights, matmul_int8_scratch_bytes(weights.shape()), kInt8RowChunk,
                                       matmul_int8_rows, repeats, threads);
        }
        throw std::invalid_argument("kernel must be 'bf16' or 'int8_token', got '" + kernel + "'");
      },
      py::arg("a"), py::arg("b"), py::arg("repeats"), py::arg("threads") = 1, py::arg("kernel") = "bf16",
      "Seconds per a · b on crossrank's packed KERNEL ('bf16' or 'int8_token'; B packed once, not timed),\n"
      "THREADS threads taking row chunks, REPEATS calls without a barrier between them: the kernel's rate alone.");
  testing.def("round_to_bf16", [](float value) { return round_to_bf16(value); }, py::arg("value"),
              "The bf16 bits of value, rounded as vcvtne2ps2bf16 does.");
}

}  // namespace

void register_testing(py::module_& m) {
  py::module_ testing = m.def_submodule(
      "testing", "The C++ core's parts on their own (normalizer, batch planner, kernels), for tests only.");
  register_tokenizer_parts(testing);
  register_batcher(testing);
  register_kernels(testing);
}

}  // namespace crossrank::bindings
