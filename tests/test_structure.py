"""The package's structure: no import cycle, every module imports on its own, light `import crossrank`."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "scripts" / "check_structure.py"


def _checker():
    spec = importlib.util.spec_from_file_location("check_structure", CHECKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_cycle_no_deferred_own_import_no_oversized_file(capsys):
    assert _checker().main([str(REPO)]) == 0, capsys.readouterr().out


def test_the_checker_finds_a_cycle_a_deferred_import_and_a_long_file(tmp_path):
    package = tmp_path / "python" / "crossrank"
    (package / "sub").mkdir(parents=True)
    (tmp_path / "csrc").mkdir()
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from crossrank.sub.a import A\n")
    (package / "sub" / "a.py").write_text("from crossrank.b import B\nA = 1\n")
    (package / "b.py").write_text("B = 2\n\ndef f():\n    from crossrank.sub import A\n    return A\n")
    (package / "c.py").write_text("x = 1\n" * 401)
    checker = _checker()
    modules = checker.module_files(tmp_path)
    graph, deferred = checker.import_graph(modules)
    # b imports A through the package: the edge goes to the module that defines it
    assert graph["crossrank.b"] == {"crossrank.sub.a"}
    assert checker.cycles(graph, modules) == [["crossrank.b", "crossrank.sub.a"]]
    assert len(deferred) == 1 and "b.py:4" in deferred[0]
    assert checker.long_files(tmp_path)[0] == (401, "python/crossrank/c.py")
    assert checker.main([str(tmp_path)]) == 1


def _modules() -> list[str]:
    return sorted(name for name in _checker().module_files(REPO) if not name.endswith("__main__"))


def _import_alone(module: str) -> tuple[str, int, str]:
    run = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=300)
    return module, run.returncode, run.stderr[-2000:]


def test_every_module_imports_alone_in_a_fresh_interpreter():
    """Each module on its own, first in its process: an import that works only after another module
    has been loaded (the symptom of a hidden cycle) fails here."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        failed = [(m, err) for m, code, err in pool.map(_import_alone, _modules()) if code != 0]
    assert not failed, "\n\n".join(f"{m}:\n{err}" for m, err in failed)


@pytest.mark.parametrize("module", ["crossrank", "crossrank.retrieval", "crossrank.cli"])
def test_light_modules_load_no_torch_onnx_or_transformers(module):
    heavy = ("torch", "onnx", "transformers", "optimum", "onnxruntime", "sentence_transformers")
    code = (f"import sys, {module}; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert run.stdout.strip() == "[]", f"import {module} loaded {run.stdout.strip()}"
