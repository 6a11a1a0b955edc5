"""Floats as Hugging Face `tokenizers` holds them after reading tokenizer.json.

tokenizers parses JSON with serde_json, whose default number parser is not correctly rounded: it reads
the digits into an integer, converts that to a float and scales it by a power of ten, two roundings
that can leave the last bit off. A Unigram model's Viterbi compares sums of piece scores exactly, so
two segmentations whose scores tie under Python's (correct) parse can differ by that bit under
tokenizers'; reading the scores as serde_json does gives its segmentation in those ties too.
"""

from __future__ import annotations

import math

_POW10 = [float(f"1e{k}") for k in range(309)]  # serde_json's POW10 table (correctly rounded literals)


def serde_json_f64(value: float) -> float:
    """``value`` as serde_json (without its float_roundtrip feature) parses its shortest decimal form,
    the form tokenizers writes (ryu's shortest round trip digits, those of Python's repr)."""
    if value == 0.0 or not math.isfinite(value):
        return value
    mantissa, _, exp = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    fraction = fraction.rstrip("0")
    significand = int(whole + fraction)  # at most 17 digits: never past u64, serde's overflow path unused
    exponent = int(exp or 0) - len(fraction)
    f = float(significand)
    while True:  # serde_json's f64_from_parts
        if abs(exponent) < len(_POW10):
            f = f * _POW10[exponent] if exponent >= 0 else f / _POW10[-exponent]
            break
        if f == 0.0 or exponent > 0:  # > 1e308 cannot be a repr of a finite float
            break
        f /= 1e308
        exponent += 308
    return math.copysign(f, value)
