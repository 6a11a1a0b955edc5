"""The token-embedding rows of an ONNX graph, read from its protobuf without the onnx package.

Bundles exported before crossrank.json recorded ``vocab_rows`` are checked against this at load.
Only the headers of the graph's nodes and initializers are read, through a memory map (tensor
data is skipped by its length): milliseconds on a 90 MB graph. Anything it does not recognise
gives None, and the check is skipped.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator

# ONNX protobuf field numbers (onnx/onnx.proto).
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER = 1, 5
_NODE_INPUT, _NODE_OP_TYPE = 1, 4
_TENSOR_DIMS, _TENSOR_NAME = 1, 8
_LEN = 2  # wire type of strings, bytes, sub-messages and packed repeated fields


def embedding_rows(path: str | os.PathLike[str]) -> int | None:
    """Rows of the table that the graph's ``input_ids`` index (a Gather's data, or the word
    embedding of an EmbedLayerNormalization), or None when the graph does not show one plainly."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _embedding_rows(buf)
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None


def _embedding_rows(buf: mmap.mmap) -> int | None:
    graph = next((value for number, wire, value in _fields(buf, 0, len(buf))
                  if number == _MODEL_GRAPH and wire == _LEN), None)
    if graph is None:
        return None
    shapes: dict[str, list[int]] = {}
    tables: list[str] = []
    for number, wire, value in _fields(buf, *graph):
        if wire != _LEN:
            continue
        if number == _GRAPH_INITIALIZER:
            name, dims = _tensor(buf, value)
            shapes[name] = dims
        elif number == _GRAPH_NODE:
            op_type, inputs = _node(buf, value)
            if op_type == "Gather" and inputs[1:2] == ["input_ids"]:
                tables.append(inputs[0])
            elif op_type == "EmbedLayerNormalization" and inputs[:1] == ["input_ids"] and len(inputs) > 2:
                tables.append(inputs[2])
    rows = {shapes[name][0] for name in tables if len(shapes.get(name, ())) == 2}
    return rows.pop() if len(rows) == 1 else None


def _tensor(buf: mmap.mmap, span: tuple[int, int]) -> tuple[str, list[int]]:
    """(name, dims) of a TensorProto."""
    name, dims = "", []
    for number, wire, value in _fields(buf, *span):
        if number == _TENSOR_NAME and wire == _LEN:
            name = buf[value[0]:value[1]].decode("utf-8")
        elif number == _TENSOR_DIMS and wire == _LEN:  # packed
            pos = value[0]
            while pos < value[1]:
                dim, pos = _varint(buf, pos)
                dims.append(dim)
        elif number == _TENSOR_DIMS and wire == 0:
            dims.append(value)
    return name, dims


def _node(buf: mmap.mmap, span: tuple[int, int]) -> tuple[str, list[str]]:
    """(op_type, inputs) of a NodeProto."""
    op_type, inputs = "", []
    for number, wire, value in _fields(buf, *span):
        if wire == _LEN and number == _NODE_INPUT:
            inputs.append(buf[value[0]:value[1]].decode("utf-8"))
        elif wire == _LEN and number == _NODE_OP_TYPE:
            op_type = buf[value[0]:value[1]].decode("utf-8")
    return op_type, inputs


def _fields(buf: mmap.mmap, start: int, end: int) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of the message in buf[start:end]: an int for varints,
    (start, end) for length-delimited fields, None for fixed-width ones."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: object = None
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == _LEN:
            length, pos = _varint(buf, pos)
            value, pos = (pos, pos + length), pos + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > end:
            raise ValueError("truncated protobuf message")
        yield number, wire, value


def _varint(buf: mmap.mmap, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")
