// One registration function per exposed class; module.cc calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace crossrank::bindings {

void register_runtime(pybind11::module_& m);
void register_tokenizer(pybind11::module_& m);
void register_bpe_tokenizer(pybind11::module_& m);
void register_unigram_tokenizer(pybind11::module_& m);
void register_session(pybind11::module_& m);
void register_engine(pybind11::module_& m);
// The submodule crossrank._native.testing.
void register_testing(pybind11::module_& m);

}  // namespace crossrank::bindings
