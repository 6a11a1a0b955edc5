#include <pybind11/numpy.h>

#include <stdexcept>
#include <vector>

#include "bindings/register.h"
#include "kernels/cpu_features.h"
#include "kernels/gelu.h"
#include "kernels/layer_norm.h"
#include "kernels/self_attention.h"

namespace py = pybind11;

namespace crossrank::bindings {

// crossrank's kernels on their own, for tests against NumPy references; graphs reach them through
// the ai.crossrank operators instead (runtime/custom_ops.h).
void register_kernels(py::module_& m) {
  m.def(
      "self_attention",
      [](py::array_t<float, py::array::c_style | py::array::forcecast> qkv,
         py::array_t<int32_t, py::array::c_style | py::array::forcecast> key_lengths, int64_t num_heads,
         bool portable) {
        if (qkv.ndim() != 3 || num_heads <= 0 || qkv.shape(2) % (3 * num_heads) != 0) {
          throw std::invalid_argument("qkv must be [batch, sequence, 3 * num_heads * head_size]");
        }
        if (key_lengths.ndim() != 1 || key_lengths.shape(0) != qkv.shape(0)) {
          throw std::invalid_argument("key_lengths must hold one length per sequence");
        }
        const AttentionShape shape{qkv.shape(0), qkv.shape(1), num_heads, qkv.shape(2) / (3 * num_heads)};
        py::array_t<float> out({shape.batch, shape.sequence, shape.hidden()});
        const float* in = qkv.data();
        const int32_t* lengths = key_lengths.data();
        float* result = out.mutable_data();
        {
          py::gil_scoped_release release;
          std::vector<float> scratch(attention_scratch_floats(shape));
          for (int64_t unit = 0; unit < shape.units(); ++unit) {
            if (portable) {
              self_attention_unit_portable(shape, in, lengths, unit, result, scratch.data());
            } else {
              self_attention_unit(shape, in, lengths, unit, result, scratch.data());
            }
          }
        }
        return out;
      },
      py::arg("qkv"), py::arg("key_lengths"), py::arg("num_heads"), py::arg("portable") = false,
      "softmax(Q·Kᵀ/√d)·V per head over packed projections; rows past a sequence's length are zeros.\n"
      "portable=True runs the plain-loop fallback instead of the CPU's fastest kernel.");
  m.def(
      "gelu",
      [](py::array_t<float, py::array::c_style | py::array::forcecast> x, bool portable) {
        py::array_t<float> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
        const float* in = x.data();
        float* result = out.mutable_data();
        const int64_t count = x.size();
        {
          py::gil_scoped_release release;
          (portable ? gelu_portable : gelu)(in, result, count);
        }
        return out;
      },
      py::arg("x"), py::arg("portable") = false,
      "x·Φ(x), the erf GELU; portable=True runs the plain-loop fallback.");
  m.def(
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
        {
          py::gil_scoped_release release;
          (portable ? add_layer_norm_portable : add_layer_norm)(shape, a, b, g, h, epsilon, result, 0, shape.rows);
        }
        return out;
      },
      py::arg("x"), py::arg("residual"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"),
      py::arg("portable") = false, "LayerNormalization(x + residual) over rows; portable=True: the fallback.");
  m.attr("KERNELS") = kernel_set();
}

}  // namespace crossrank::bindings
