#include <pybind11/stl.h>

#include "bindings/gil.h"
#include "bindings/register.h"
#include "runtime/onnx_session.h"

namespace py = pybind11;

namespace crossrank::bindings {

void register_session(py::module_& m) {
  m.attr("DISABLED_OPTIMIZERS") = kDisabledOptimizers;
  py::class_<OnnxSession, std::shared_ptr<OnnxSession>>(m, "OnnxSession")
      .def(py::init([](const std::string& path, int intra_op_threads, const std::string& profile_prefix) {
             SessionConfig config;
             config.intra_op_threads = intra_op_threads;
             config.profile_prefix = profile_prefix;
             std::shared_ptr<OnnxSession> session;
             // Loading and optimizing a graph takes a while.
             without_gil([&] { session = std::make_shared<OnnxSession>(path, config); });
             return session;
           }),
           py::arg("path"), py::arg("intra_op_threads") = 0, py::arg("profile_prefix") = "")
      .def("end_profiling", &OnnxSession::end_profiling,
           "Stop ONNX Runtime's profiler (profile_prefix) and return the path of its JSON trace.")
      .def_property_readonly("path", &OnnxSession::path)
      .def_property_readonly("has_token_type_ids", &OnnxSession::has_token_type_ids)
      .def_property_readonly("num_labels", &OnnxSession::num_labels);
}

}  // namespace crossrank::bindings
