"""A one-layer post-LayerNorm BERT block as a fused ONNX graph (fused Attention, com.microsoft.Gelu),
built from numpy in milliseconds, for the static int8 graph rewrites' tests; and a calibration
reader over random inputs."""

from __future__ import annotations

import numpy as np

HIDDEN, HEADS, FFN = 64, 2, 128  # head width 32: crossrank's attention kernel takes it


def block_model(seed: int = 0, outlier: float = 20.0):
    """The graph: x -> LayerNorm -> Attention -> dense + residual -> LayerNorm -> FFN (GELU) +
    residual -> LayerNorm -> y. One LayerNorm channel gets a gamma of OUTLIER (BERT's outliers)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def w(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    gamma = np.ones(HIDDEN, np.float32)
    gamma[3] = outlier
    inits = {"ln0_g": gamma, "ln0_b": w(HIDDEN), "qkv_w": w(HIDDEN, 3 * HIDDEN), "qkv_b": w(3 * HIDDEN),
             "out_w": w(HIDDEN, HIDDEN), "out_b": w(HIDDEN), "ln1_g": gamma * 0.5 + 0.5, "ln1_b": w(HIDDEN),
             "in_w": w(HIDDEN, FFN), "in_b": w(FFN), "ffn_w": w(FFN, HIDDEN), "ffn_b": w(HIDDEN),
             "ln2_g": np.ones(HIDDEN, np.float32), "ln2_b": w(HIDDEN), "axes": np.array([1], np.int64)}

    def ln(x, g, b, y):
        return helper.make_node("LayerNormalization", [x, g, b], [y], name=y, axis=-1, epsilon=1e-12)

    nodes = [
        ln("x", "ln0_g", "ln0_b", "h0"),
        helper.make_node("Cast", ["mask"], ["mask32"], name="cast", to=TensorProto.INT32),
        helper.make_node("ReduceSum", ["mask32", "axes"], ["mask_index"], name="MaskReduceSum", keepdims=0),
        helper.make_node("Attention", ["h0", "qkv_w", "qkv_b", "mask_index"], ["ctx"], name="Attention_0",
                         domain="com.microsoft", num_heads=HEADS),
        helper.make_node("MatMul", ["ctx", "out_w"], ["a0"], name="/layer.0/attention/output/dense/MatMul"),
        helper.make_node("Add", ["out_b", "a0"], ["a1"], name="/layer.0/attention/output/dense/Add"),
        helper.make_node("Add", ["a1", "h0"], ["a2"], name="/layer.0/attention/output/Add"),
        ln("a2", "ln1_g", "ln1_b", "h1"),
        helper.make_node("MatMul", ["h1", "in_w"], ["i0"], name="/layer.0/intermediate/dense/MatMul"),
        helper.make_node("Add", ["in_b", "i0"], ["i1"], name="/layer.0/intermediate/dense/Add"),
        helper.make_node("Gelu", ["i1"], ["i2"], name="Gelu_0", domain="com.microsoft"),
        helper.make_node("MatMul", ["i2", "ffn_w"], ["o0"], name="/layer.0/output/dense/MatMul"),
        helper.make_node("Add", ["ffn_b", "o0"], ["o1"], name="/layer.0/output/dense/Add"),
        helper.make_node("Add", ["o1", "h1"], ["o2"], name="/layer.0/output/Add"),
        ln("o2", "ln2_g", "ln2_b", "y"),
    ]
    graph = helper.make_graph(
        nodes, "block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", HIDDEN]),
         helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "sequence", HIDDEN])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 9
    return model


def feeds(n: int, seed: int = 1) -> list[dict[str, np.ndarray]]:
    """N single-sequence inputs of random lengths (no padding), as a calibration reader runs them."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        length = int(rng.integers(4, 12))
        out.append({"x": rng.standard_normal((1, length, HIDDEN)).astype(np.float32),
                    "mask": np.ones((1, length), np.int64)})
    return out


def padded_batch(seed: int = 2) -> dict[str, np.ndarray]:
    """Three right-padded sequences (lengths 9, 5, 2)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((3, 9), np.int64)
    for i, n in enumerate((9, 5, 2)):
        mask[i, :n] = 1
    return {"x": rng.standard_normal((3, 9, HIDDEN)).astype(np.float32), "mask": mask}


class Reader:
    """ONNX Runtime's calibration reader interface over FEEDS."""

    def __init__(self, items: list[dict[str, np.ndarray]]) -> None:
        self.items = items
        self.i = 0

    def __len__(self) -> int:
        return len(self.items)

    def get_next(self):
        if self.i >= len(self.items):
            return None
        self.i += 1
        return self.items[self.i - 1]

    def rewind(self) -> None:
        self.i = 0


def run(model_or_path, feed: dict[str, np.ndarray]) -> np.ndarray:
    """The graph's output for FEED (ONNX Runtime, CPU)."""
    import onnxruntime as ort

    data = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(None, feed)[0]
