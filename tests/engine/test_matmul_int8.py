"""crossrank's int8 GEMM with a scale per row (csrc/kernels/matmul_int8.h) against NumPy in float64.

Each row of A is quantized to symmetric int8 with its own scale (absmax / 127, to nearest even),
each column of B likewise; the int32 sums are exact, so against float64 on the quantized values
only the final float32 dequantization remains (a few float32 roundings). Against float64 on the
unquantized inputs the error is what quantization explains: each element is off by at most half
a step.
"""

import numpy as np
import pytest

from crossrank import _native

EPS32 = 2.0**-24


def quantized(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """X as int8 values (float64) and their scales along AXIS, as the kernel quantizes it."""
    absmax = np.abs(x).max(axis=axis, keepdims=True).astype(np.float32)
    inverse = np.where(absmax > 0, np.float32(127) / np.where(absmax > 0, absmax, 1), 0).astype(np.float32)
    q = np.clip(np.rint(x * inverse), -127, 127)  # float32 product, rounded half to even
    return q.astype(np.float64), (absmax / np.float32(127)).astype(np.float64)


SHAPES = [(1, 1, 1), (1, 384, 384), (7, 33, 17), (8, 4, 16), (9, 31, 40), (13, 64, 33),
          (37, 384, 1536), (130, 1536, 384), (65, 385, 31)]


@pytest.mark.parametrize("portable", [False, True], ids=["fastest", "portable"])
@pytest.mark.parametrize("rows,depth,columns", SHAPES)
def test_matches_float64_within_quantization(rows, depth, columns, portable):
    rng = np.random.default_rng(rows * 1000 + depth + columns)
    a = rng.normal(scale=3.0, size=(rows, depth)).astype(np.float32)
    b = rng.normal(scale=0.05, size=(depth, columns)).astype(np.float32)
    bias = rng.normal(size=columns).astype(np.float32)
    out = _native.testing.matmul_int8_token(a, b, bias, portable=portable)
    assert out.shape == (rows, columns) and out.dtype == np.float32
    qa, sa = quantized(a, axis=1)
    qb, sb = quantized(b, axis=0)
    sums = qa @ qb
    # Against the quantized values: only float(sum), the scale product and the fused multiply-add round.
    exact = sums * (sa * sb) + bias
    assert np.all(np.abs(out - exact) <= 4 * EPS32 * (np.abs(sums) * (sa * sb) + np.abs(bias)) + 1e-30)
    # Against the inputs themselves: at most half a step of A and of B per product.
    bound = (np.abs(a) @ np.ones_like(b) * sb / 2 + np.ones_like(a) @ np.abs(b) * sa / 2 + depth * sa * sb / 4)
    error = np.abs(out - (a.astype(np.float64) @ b.astype(np.float64) + bias))
    assert np.all(error <= bound * (1 + 1e-6) + 8 * EPS32 * np.abs(exact))
    if depth >= 32:  # and quantization did happen: float32 products would be far closer
        assert error.max() > 1e-3 * bound.max()


def test_without_bias_zero_rows_and_tails():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(11, 5)).astype(np.float32)  # depth 5: the second quad is padding
    a[4] = 0.0  # a zero row has scale 0: its outputs are the bias (none: zeros)
    b = rng.normal(size=(5, 21)).astype(np.float32)  # 21 columns: a masked second panel
    out = _native.testing.matmul_int8_token(a, b)
    qa, sa = quantized(a, axis=1)
    qb, sb = quantized(b, axis=0)
    np.testing.assert_allclose(out, (qa @ qb) * (sa * sb), rtol=1e-6, atol=1e-6)
    assert np.all(out[4] == 0.0)


def test_a_row_does_not_depend_on_the_other_rows():
    """The property the rung exists for: a row's result is the same alone or among any rows."""
    rng = np.random.default_rng(5)
    a = rng.normal(size=(70, 384)).astype(np.float32)
    a[3] *= 100.0  # an outlier row would set a per-tensor scale for all
    b = rng.normal(size=(384, 96)).astype(np.float32)
    together = _native.testing.matmul_int8_token(a, b)
    for i in (0, 3, 33, 69):
        np.testing.assert_array_equal(_native.testing.matmul_int8_token(a[i:i + 1], b)[0], together[i])


def test_fastest_and_portable_agree_bit_for_bit():
    # Exact int32 sums, the same float operations in the same order: on a CPU with AVX512-VNNI this
    # compares the instruction with the loops; elsewhere both run the loops.
    rng = np.random.default_rng(7)
    a = rng.normal(size=(77, 1536)).astype(np.float32)
    b = rng.normal(size=(1536, 100)).astype(np.float32)
    bias = rng.normal(size=100).astype(np.float32)
    np.testing.assert_array_equal(_native.testing.matmul_int8_token(a, b, bias),
                                  _native.testing.matmul_int8_token(a, b, bias, portable=True))


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="a must be"):
        _native.testing.matmul_int8_token(np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="bias must be"):
        _native.testing.matmul_int8_token(np.zeros((2, 3), np.float32), np.zeros((3, 5), np.float32),
                                          np.zeros(4, np.float32))
