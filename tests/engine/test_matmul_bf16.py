"""crossrank's bf16 GEMM (csrc/kernels/matmul_bf16.h) against NumPy in float64.

The kernel rounds A and B to bf16 (to nearest even, as vcvtne2ps2bf16) and sums exact products in
fp32. Against float64 on the unrounded inputs its error is what that rounding explains: each
product is off by at most 2^-7 + 2^-16 of |a||b| (two roundings of at most 2^-8: bf16 keeps 8
significant bits), the fp32 sums add (K + 1) · 2^-24 of the sum of |a||b|. Against float64 on the
bf16-rounded inputs only the fp32 sums remain.
"""

import numpy as np
import pytest

from crossrank import _native


def to_bf16(x: np.ndarray) -> np.ndarray:
    """X (finite, normal float32) rounded to bf16 to nearest even, as float32."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


SHAPES = [(1, 1, 1), (1, 384, 384), (7, 33, 17), (8, 2, 16), (9, 31, 40), (13, 64, 33),
          (37, 384, 1536), (130, 1536, 384), (65, 385, 31)]


@pytest.mark.parametrize("portable", [False, True], ids=["fastest", "portable"])
@pytest.mark.parametrize("rows,depth,columns", SHAPES)
def test_matches_float64_within_bf16_rounding(rows, depth, columns, portable):
    rng = np.random.default_rng(rows * 1000 + depth + columns)
    a = rng.normal(scale=3.0, size=(rows, depth)).astype(np.float32)
    b = rng.normal(scale=0.05, size=(depth, columns)).astype(np.float32)
    bias = rng.normal(size=columns).astype(np.float32)
    out = _native.testing.matmul_bf16(a, b, bias, portable=portable)
    assert out.shape == (rows, columns) and out.dtype == np.float32
    magnitude = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64) + np.abs(bias)
    sums = (depth + 1) * 2.0**-24
    error = np.abs(out - (a.astype(np.float64) @ b.astype(np.float64) + bias))
    assert np.all(error <= (2.0**-7 + 2.0**-16 + sums) * magnitude)  # (1 + 2^-8)^2 - 1 per product
    # With the inputs rounded the same way, only fp32 summation is left.
    exact = to_bf16(a).astype(np.float64) @ to_bf16(b).astype(np.float64) + bias
    assert np.all(np.abs(out - exact) <= sums * magnitude + 1e-30)
    # and bf16 rounding did happen: plain fp32 products would be ~100x closer
    if depth >= 32:
        assert error.max() > 1e-2 * (2.0**-7 * magnitude).max()


def test_without_bias_and_with_zeros_past_the_tails():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(11, 5)).astype(np.float32)  # odd depth: the last pair's high half is padding
    b = rng.normal(size=(5, 21)).astype(np.float32)  # 21 columns: a masked second panel
    out = _native.testing.matmul_bf16(a, b)
    np.testing.assert_allclose(out, to_bf16(a).astype(np.float64) @ to_bf16(b), rtol=0, atol=1e-5)


def test_fastest_and_portable_agree_bit_for_bit():
    # Same rounding, products summed in vdpbf16ps's order (odd then even of each pair): on a CPU with
    # AVX512-BF16 this compares the instruction with the loops; elsewhere both run the loops.
    rng = np.random.default_rng(7)
    a = rng.normal(size=(77, 1536)).astype(np.float32)
    b = rng.normal(size=(1536, 100)).astype(np.float32)
    bias = rng.normal(size=100).astype(np.float32)
    np.testing.assert_array_equal(_native.testing.matmul_bf16(a, b, bias),
                                  _native.testing.matmul_bf16(a, b, bias, portable=True))


@pytest.mark.parametrize("value,bits", [
    (1.0, 0x3F80), (-2.5, 0xC020), (float("inf"), 0x7F80), (float("-inf"), 0xFF80),
    (np.float32(1.0) + np.float32(2.0**-8), 0x3F80),  # tie: to even (down)
    (np.float32(1.0) + np.float32(3 * 2.0**-8), 0x3F82),  # tie: to even (up)
    (np.float32(1.0) + np.float32(2.0**-8 + 2.0**-20), 0x3F81),  # above the tie: up
    (1e-40, 0x0000), (-1e-40, 0x8000),  # denormals become zero, as the instruction does
    (3.4e38, 0x7F80),  # rounds past the largest bf16 to inf
])
def test_rounding_to_bf16(value, bits):
    assert _native.testing.round_to_bf16(value) == bits


def test_nan_stays_nan():
    assert _native.testing.round_to_bf16(float("nan")) & 0x7FC0 == 0x7FC0


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match="depth"):
        _native.testing.matmul_bf16(np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="bias"):
        _native.testing.matmul_bf16(np.zeros((2, 3), np.float32), np.zeros((3, 5), np.float32),
                                    np.zeros(4, np.float32))


def test_bf16_flag_is_a_bool():
    assert isinstance(_native.BF16_KERNELS, bool)
    if _native.BF16_KERNELS:
        assert _native.KERNELS == "avx512"
