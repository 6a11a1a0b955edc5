#include "bindings/gil.h"
#include "bindings/register.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "crossrank's C++ core: pair tokenization, length-bucketed batching, ONNX Runtime sessions.";
  crossrank::bindings::register_runtime(m);
  crossrank::bindings::register_tokenizer(m);
  crossrank::bindings::register_bpe_tokenizer(m);
  crossrank::bindings::register_unigram_tokenizer(m);
  crossrank::bindings::register_session(m);
  crossrank::bindings::register_engine(m);
  crossrank::bindings::register_testing(m);
  crossrank::bindings::register_exit_handler(m);
}
