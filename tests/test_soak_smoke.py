"""scripts/soak.py for ~10 s on the default model: threads score, a canceller stops calls, a child
process exits mid-call; every completed result equals the reference and nothing failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import crossrank

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "soak.py"
PYTHONPATH = os.pathsep.join([str(Path(crossrank.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])


def test_soak_for_ten_seconds(minilm_bundle, tmp_path):
    report_file = tmp_path / "soak.json"
    command = [sys.executable, str(SCRIPT), "--bundle", str(minilm_bundle), "--minutes", "0.17", "--threads", "2",
               "--cancel-every", "1", "--json", str(report_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": PYTHONPATH})
    assert done.returncode == 0, f"status {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["failures"] == [] and report["max_abs_diff"] == 0.0
    assert report["calls"] >= 1 and report["cancelled"] >= 1 and report["children"] >= 1
