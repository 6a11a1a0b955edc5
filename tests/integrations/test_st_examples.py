"""sentence-transformers' own CrossEncoder examples (the docstrings of the installed package), run
with crossrank.CrossEncoder: only the import changes, and the Hub model id becomes a local folder
(this machine is offline). The multi-process lines of predict's example are left out, and shown
to fail with a clear error instead."""

from __future__ import annotations

import inspect
import re
import textwrap
import warnings

import pytest
from fixture_helpers import _need_export_extra, make_tiny_model_dir

pytest_plugins = ["integration_fixtures"]  # its fixtures: crossrank_home, hf_folder, models

st = pytest.importorskip("sentence_transformers")

IMPORT = "from sentence_transformers import CrossEncoder"
MULTI_PROCESS = re.compile(r"device=\[|multi_process_pool|pool=pool")


def code_blocks(docstring: str) -> list[str]:
    """The literal blocks (after a line ending in '::') of a reST docstring, dedented."""
    lines = inspect.cleandoc(docstring).splitlines()
    blocks, index = [], 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.rstrip().endswith("::"):
            indent = len(line) - len(line.lstrip())
            block = []
            while index < len(lines) and (not lines[index].strip()
                                          or len(lines[index]) - len(lines[index].lstrip()) > indent):
                block.append(lines[index])
                index += 1
            blocks.append(textwrap.dedent("\n".join(block)).strip())
    return [block for block in blocks if "CrossEncoder(" in block]


def examples() -> dict[str, str]:
    cls = st.CrossEncoder
    found = {}
    for where, doc in (("class", cls.__doc__), ("predict", cls.predict.__doc__), ("rank", cls.rank.__doc__)):
        for number, block in enumerate(code_blocks(doc)):
            found[f"{where}-{number}"] = block
    return found


EXAMPLES = examples()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, minilm_model_dir):
    """The examples' models (cross-encoder/ms-marco-MiniLM-L6-v2, stsb-roberta-base) have one label."""
    _need_export_extra()
    return make_tiny_model_dir(tmp_path_factory.mktemp("hf") / "example-model", minilm_model_dir)


def runnable(block: str, folder, import_line: str) -> str:
    """BLOCK with IMPORT_LINE for the import, FOLDER for the Hub id, and no multi-process lines."""
    assert IMPORT in block
    lines = [line for line in block.replace(IMPORT, import_line).splitlines() if not MULTI_PROCESS.search(line)]
    return re.sub(r'CrossEncoder\("[^"]+"\)', f"CrossEncoder({str(folder)!r}, progress=False)"
                  if "crossrank" in import_line else f"CrossEncoder({str(folder)!r})", "\n".join(lines))


def test_the_installed_sentence_transformers_has_the_examples():
    assert len(EXAMPLES) >= 3, EXAMPLES  # the class's, predict's and rank's


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_runs_with_only_the_import_changed(name, folder, crossrank_home, capsys):
    block = EXAMPLES[name]
    outputs = []
    for import_line in (IMPORT, "from crossrank import CrossEncoder"):
        namespace: dict = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(runnable(block, folder, import_line), f"<{name}>", "exec"), namespace)  # noqa: S102
        outputs.append({key: type(value).__name__ for key, value in namespace.items()
                        if not key.startswith("__") and key != "CrossEncoder"})
    assert outputs[0] == outputs[1]  # the same names, bound to the same kinds of results


def test_the_multi_process_lines_fail_clearly(folder, crossrank_home):
    from crossrank import CrossEncoder

    model = CrossEncoder(folder, progress=False)
    pairs = [["I love cats", "Cats are amazing"]]
    with pytest.raises(ValueError, match="device must be None or 'cpu'"):
        model.predict(pairs, device=["cuda:0", "cuda:1"])
    with pytest.raises(NotImplementedError, match="start_multi_process_pool is not supported"):
        model.start_multi_process_pool()
    with pytest.raises(ValueError, match="pool is not supported"):
        model.predict(pairs, pool={})
