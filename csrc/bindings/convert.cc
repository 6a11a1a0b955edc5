#include "bindings/convert.h"

#include <limits>

namespace py = pybind11;

namespace crossrank::bindings {
namespace {

// A type's name as Python's own messages spell it; "None" for None (as crossrank._validation).
std::string type_name(py::handle value) {
  if (value.is_none()) return "None";
  return py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>();
}

// The items of a sequence that is not itself a str or bytes, as a list or tuple
// (PySequence_Fast), so that every item is reached without a call per item.
py::object sequence_items(py::handle seq, const char* name, const char* expected) {
  if (PyUnicode_Check(seq.ptr()) || PyBytes_Check(seq.ptr()) || !PySequence_Check(seq.ptr())) {
    throw py::type_error(std::string(name) + " must be a sequence of " + expected + ", got " + type_name(seq));
  }
  PyObject* fast = PySequence_Fast(seq.ptr(), name);
  if (fast == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(fast);
}

// Index (in code points) of the first lone surrogate of a str.
Py_ssize_t first_surrogate(PyObject* text) {
  const Py_ssize_t length = PyUnicode_GET_LENGTH(text);
  const int kind = PyUnicode_KIND(text);
  const void* data = PyUnicode_DATA(text);
  for (Py_ssize_t i = 0; i < length; ++i) {
    const Py_UCS4 c = PyUnicode_READ(kind, data, i);
    if (c >= 0xD800 && c <= 0xDFFF) return i;
  }
  return -1;
}

int32_t token_id(py::handle value, const std::string& name, size_t position) {
  if (PyFloat_Check(value.ptr()) || !PyIndex_Check(value.ptr())) {
    throw py::type_error(name + " must be a sequence of int token ids; item " + std::to_string(position) +
                         " is " + type_name(value));
  }
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr()));
  if (!index) throw py::error_already_set();
  int overflow = 0;
  const long long id = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (overflow != 0 || id < std::numeric_limits<int32_t>::min() || id > std::numeric_limits<int32_t>::max()) {
    throw py::value_error(name + ": token id " + py::str(index).cast<std::string>() +
                          " is outside the vocabulary");
  }
  return static_cast<int32_t>(id);
}

AddedToken added_token_from(py::handle obj, size_t index) {
  const std::string where = "added token " + std::to_string(index);
  AddedToken t;
  if (py::isinstance<py::dict>(obj)) {
    py::dict d = py::reinterpret_borrow<py::dict>(obj);
    if (!d.contains("content") || !d.contains("id")) throw py::value_error(where + " needs 'content' and 'id'");
    t.content = utf8_text(d["content"], where + ": content");
    t.id = d["id"].cast<int32_t>();
    auto flag = [&](const char* key) { return d.contains(key) && d[key].cast<bool>(); };
    t.lstrip = flag("lstrip");
    t.rstrip = flag("rstrip");
    t.single_word = flag("single_word");
    t.normalized = flag("normalized");
    return t;
  }
  py::tuple tup = py::reinterpret_borrow<py::object>(obj).cast<py::tuple>();
  if (tup.size() < 2 || tup.size() > 6) {
    throw py::value_error(where + " must be a dict or (content, id, lstrip, rstrip, single_word, normalized)");
  }
  t.content = utf8_text(tup[0], where + ": content");
  t.id = tup[1].cast<int32_t>();
  if (tup.size() > 2) t.lstrip = tup[2].cast<bool>();
  if (tup.size() > 3) t.rstrip = tup[3].cast<bool>();
  if (tup.size() > 4) t.single_word = tup[4].cast<bool>();
  if (tup.size() > 5) t.normalized = tup[5].cast<bool>();
  return t;
}

std::vector<int32_t> special_ids(py::handle ids, const char* name) {
  const py::object items = sequence_items(ids, name, "int token ids");
  const Py_ssize_t length = PySequence_Fast_GET_SIZE(items.ptr());
  PyObject** item = PySequence_Fast_ITEMS(items.ptr());
  std::vector<int32_t> out;
  for (Py_ssize_t i = 0; i < length; ++i) out.push_back(token_id(item[i], name, static_cast<size_t>(i)));
  return out;
}

}  // namespace

std::string ItemNames::operator()(size_t index) const {
  const std::string number = std::to_string(first_index + index);
  return pairs ? "pair " + number + ": " + item : std::string(item) + " " + number;
}

std::string utf8_text(py::handle text, const std::string& name) {
  if (!PyUnicode_Check(text.ptr())) throw py::type_error(name + " must be str, got " + type_name(text));
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (data == nullptr) {
    PyErr_Clear();
    throw py::value_error(name + " is not valid Unicode (lone surrogate at character " +
                          std::to_string(first_surrogate(text.ptr())) + ")");
  }
  return std::string(data, static_cast<size_t>(size));
}

std::vector<std::string> utf8_texts(py::handle texts, const ItemNames& names) {
  const py::object items = sequence_items(texts, names.sequence, "str");
  const Py_ssize_t count = PySequence_Fast_GET_SIZE(items.ptr());
  PyObject** item = PySequence_Fast_ITEMS(items.ptr());
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(count));
  for (Py_ssize_t i = 0; i < count; ++i) {
    if (PyUnicode_Check(item[i])) {  // the common case, without building a name
      Py_ssize_t size = 0;
      const char* data = PyUnicode_AsUTF8AndSize(item[i], &size);
      if (data != nullptr) {
        out.emplace_back(data, static_cast<size_t>(size));
        continue;
      }
      PyErr_Clear();
    }
    out.push_back(utf8_text(item[i], names(static_cast<size_t>(i))));  // throws, naming the item
  }
  return out;
}

std::vector<std::vector<int32_t>> token_id_lists(py::handle lists, const ItemNames& names) {
  const py::object items = sequence_items(lists, names.sequence, "token id sequences");
  const Py_ssize_t count = PySequence_Fast_GET_SIZE(items.ptr());
  PyObject** item = PySequence_Fast_ITEMS(items.ptr());
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(count));
  for (Py_ssize_t i = 0; i < count; ++i) {
    const std::string name = names(static_cast<size_t>(i));
    const py::object ids = sequence_items(item[i], name.c_str(), "int token ids");
    const Py_ssize_t length = PySequence_Fast_GET_SIZE(ids.ptr());
    PyObject** id = PySequence_Fast_ITEMS(ids.ptr());
    std::vector<int32_t>& row = out[static_cast<size_t>(i)];
    row.reserve(static_cast<size_t>(length));
    for (Py_ssize_t j = 0; j < length; ++j) row.push_back(token_id(id[j], name, static_cast<size_t>(j)));
  }
  return out;
}

std::vector<AddedToken> added_tokens_from(py::handle tokens) {
  const py::object items = sequence_items(tokens, "added_tokens", "added tokens");
  const Py_ssize_t count = PySequence_Fast_GET_SIZE(items.ptr());
  PyObject** item = PySequence_Fast_ITEMS(items.ptr());
  std::vector<AddedToken> out;
  for (Py_ssize_t i = 0; i < count; ++i) out.push_back(added_token_from(item[i], static_cast<size_t>(i)));
  return out;
}

PairTemplate pair_template_from(py::handle prefix, py::handle middle, py::handle suffix, int32_t type_id_a,
                                int32_t type_id_b) {
  PairTemplate t;
  t.prefix = special_ids(prefix, "prefix");
  t.middle = special_ids(middle, "middle");
  t.suffix = special_ids(suffix, "suffix");
  t.type_id_a = type_id_a;
  t.type_id_b = type_id_b;
  return t;
}

Truncation truncation_from_name(const std::string& name) {
  if (name == "only_second") return Truncation::OnlySecond;
  if (name == "longest_first") return Truncation::LongestFirst;
  throw py::value_error("truncation must be 'only_second' or 'longest_first', got '" + name + "'");
}

py::list int_list(const std::vector<int32_t>& values) {
  py::list out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    PyObject* value = PyLong_FromLong(values[i]);
    if (value == nullptr) throw py::error_already_set();
    PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), value);
  }
  return out;
}

}  // namespace crossrank::bindings
