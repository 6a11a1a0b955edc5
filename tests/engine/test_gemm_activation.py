"""GELU fused into crossrank's GEMMs (activation="gelu", csrc/kernels/gelu16_avx512.h): the FFN's
first GEMM applies it as it stores C, so the Gelu operator's own pass over C goes away.

The fused result must be the Gelu operator's result on the unfused GEMM's output, bit for bit (the
same 16-lane GELU on the same float32 values; the portable loops likewise with std::erf), and so
within GELU's own error of float64 GELU on that output.
"""

import math

import numpy as np
import pytest

from crossrank import _native

GEMMS = {"int8_token": _native.testing.matmul_int8_token, "bf16": _native.testing.matmul_bf16}


def operands(rows: int, depth: int, columns: int, seed: int):
    rng = np.random.default_rng(seed)
    a = rng.normal(scale=2.0, size=(rows, depth)).astype(np.float32)
    b = rng.normal(scale=0.08, size=(depth, columns)).astype(np.float32)
    bias = rng.normal(size=columns).astype(np.float32)
    return a, b, bias


@pytest.mark.parametrize("portable", [False, True], ids=["fastest", "portable"])
@pytest.mark.parametrize("kernel", sorted(GEMMS))
@pytest.mark.parametrize("rows,depth,columns", [(1, 4, 1), (9, 31, 40), (37, 384, 1536), (70, 33, 17)])
def test_fused_gelu_is_the_gelu_of_the_plain_gemm_bit_for_bit(kernel, rows, depth, columns, portable):
    gemm = GEMMS[kernel]
    a, b, bias = operands(rows, depth, columns, seed=rows + depth + columns)
    plain = gemm(a, b, bias, portable=portable)
    fused = gemm(a, b, bias, portable=portable, activation="gelu")
    assert fused.shape == plain.shape and fused.dtype == np.float32
    np.testing.assert_array_equal(fused, _native.testing.gelu(plain, portable=portable))
    erf = np.vectorize(math.erf)
    reference = 0.5 * plain.astype(np.float64) * (1.0 + erf(plain.astype(np.float64) / math.sqrt(2.0)))
    np.testing.assert_allclose(fused, reference, rtol=2e-6, atol=2e-6)
    assert (fused < plain).any() and (fused >= -0.2).all()  # GELU did happen: negatives pulled up


@pytest.mark.parametrize("kernel", sorted(GEMMS))
def test_without_activation_nothing_changes(kernel):
    gemm = GEMMS[kernel]
    a, b, bias = operands(20, 64, 48, seed=11)
    np.testing.assert_array_equal(gemm(a, b, bias), gemm(a, b, bias, activation=""))
    assert (gemm(a, b, bias) < -1.0).any()  # plain results keep their negatives


@pytest.mark.parametrize("kernel", sorted(GEMMS))
def test_unknown_activation_is_named(kernel):
    a, b, bias = operands(2, 4, 4, seed=1)
    with pytest.raises(ValueError, match="activation must be"):
        GEMMS[kernel](a, b, bias, activation="relu")
