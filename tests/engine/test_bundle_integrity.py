"""Loading refuses a bundle that would score silently wrong: corrupt files (checksums_sha256),
a tokenizer or max_length that does not fit the graph, and file entries that lead out of the
bundle folder. Every error is a ValueError naming the file or the manifest entry."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from crossrank import _native
from crossrank._onnx_graph import embedding_rows
from crossrank.bundle import MANIFEST_FILE, VERIFY_ENV, Bundle
from crossrank.reranker import Reranker


@pytest.fixture
def bundle(tiny_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))


def edit_manifest(bundle: Path, edit) -> None:
    path = bundle / MANIFEST_FILE
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def flip_bits(path: Path, count: int = 2000) -> None:
    data = bytearray(path.read_bytes())
    step = max(1, len(data) // count)
    for i in range(len(data) // 2, len(data), step):  # the second half: weights, not the graph's header
        data[i] ^= 0x10
    path.write_bytes(bytes(data))


# -------------------------------------------------------------------------------- checksums


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_flipped_bits_in_the_graph_are_refused_naming_the_file(bundle, precision):
    graph = Bundle.load(bundle).runtime_model_file(precision)
    flip_bits(graph)
    with pytest.raises(ValueError, match=f"{graph} is corrupt: its SHA-256 differs") as raised:
        Reranker(bundle, precision=precision)
    assert f"checksums_sha256['{graph.name}']" in str(raised.value)


def test_a_changed_tokenizer_is_refused_unless_verification_is_off(bundle, monkeypatch):
    tokenizer = bundle / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{tokenizer} is corrupt"):
        Reranker(bundle)
    assert Reranker(bundle, verify_checksums=False).score_pairs([("q", "d")]).shape == (1,)
    monkeypatch.setenv(VERIFY_ENV, "0")
    assert Reranker(bundle).score_pairs([("q", "d")]).shape == (1,)
    with pytest.raises(ValueError, match="is corrupt"):  # the argument wins over the environment
        Reranker(bundle, verify_checksums=True)
    monkeypatch.setenv(VERIFY_ENV, "maybe")
    with pytest.raises(ValueError, match=f"{VERIFY_ENV} must be 0 or 1"):
        Reranker(bundle)


def test_only_the_files_read_are_hashed(bundle):
    flip_bits(Bundle.load(bundle).runtime_model_file("fp32"))
    assert Reranker(bundle, precision="int8").score_pairs([("q", "d")]).shape == (1,)


def test_bundles_without_checksums_load_unchecked(bundle):
    tokenizer = bundle / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    edit_manifest(bundle, lambda m: m.pop("checksums_sha256"))
    assert Reranker(bundle).score_pairs([("q", "d")]).shape == (1,)


def test_malformed_checksums_field_is_named(bundle):
    edit_manifest(bundle, lambda m: m["checksums_sha256"].update({"tokenizer.json": "abc"}))
    with pytest.raises(ValueError, match=r"checksums_sha256\['tokenizer.json'\] must be a 64-digit"):
        Bundle.load(bundle)


# -------------------------------------------------------------------------------- fit with the graph


def _grow_vocabulary(bundle: Path) -> Path:
    tokenizer = bundle / "tokenizer.json"
    config = json.loads(tokenizer.read_text(encoding="utf-8"))
    config["model"]["vocab"]["zzzz-extra"] = len(config["model"]["vocab"])
    tokenizer.write_text(json.dumps(config), encoding="utf-8")
    return tokenizer


def test_tokenizer_ids_past_the_embedding_rows_are_refused(bundle):
    tokenizer = _grow_vocabulary(bundle)
    with pytest.raises(ValueError, match=f"{tokenizer} does not fit the model: it can produce token id 30522, "
                                         "but the graph's token embedding has 30522 rows .vocab_rows in"):
        Reranker(bundle, verify_checksums=False)


def test_older_bundles_read_the_rows_from_the_graph(bundle):
    edit_manifest(bundle, lambda m: m.pop("vocab_rows"))
    tokenizer = _grow_vocabulary(bundle)
    loaded = Bundle.load(bundle)
    graph = loaded.runtime_model_file(loaded.default_precision)
    with pytest.raises(ValueError, match=f"{tokenizer} does not fit the model: .* has 30522 rows .read from {graph}"):
        Reranker(bundle, verify_checksums=False)


def test_embedding_rows_from_every_graph_and_none_for_other_files(tiny_bundle, tmp_path):
    graphs = sorted(Path(tiny_bundle).glob("*.onnx"))
    # 3 rungs with 2 graphs each, and each kernel rung's one where the CPU has its instructions
    count = 6 + bool(_native.BF16_KERNELS) + bool(_native.INT8_TOKEN_KERNELS)
    assert len(graphs) == count and [embedding_rows(g) for g in graphs] == [30522] * count
    garbage = tmp_path / "garbage.onnx"
    for data in (b"", b"\x00garbage" * 100, b"\xff" * 64, (Path(tiny_bundle) / "model.onnx").read_bytes()[:5000]):
        garbage.write_bytes(data)
        assert embedding_rows(garbage) is None
    assert embedding_rows(tmp_path / "missing.onnx") is None


def test_the_export_records_the_graph_limits(tiny_bundle):
    loaded = Bundle.load(tiny_bundle)
    assert (loaded.vocab_rows, loaded.max_positions) == (30522, 512)


def test_max_length_past_the_positions_is_refused(bundle):
    edit_manifest(bundle, lambda m: m.update(max_length=2048))
    with pytest.raises(ValueError, match=f"{bundle / MANIFEST_FILE}: max_length 2048 exceeds the 512 positions"):
        Reranker(bundle)


def test_older_bundles_fall_back_to_the_source_positions_or_skip(bundle):
    def old(m):
        m.update(max_length=2048)
        m.pop("max_positions")
        m.pop("vocab_rows")

    edit_manifest(bundle, old)
    with pytest.raises(ValueError, match="max_length 2048 exceeds the 512 positions"):
        Bundle.load(bundle)
    edit_manifest(bundle, lambda m: m.update(max_length=512))
    loaded = Bundle.load(bundle)
    assert (loaded.vocab_rows, loaded.max_positions) == (None, None)
    assert Reranker(bundle).score_pairs([("q", "d")]).shape == (1,)


@pytest.mark.parametrize("field, value", [("vocab_rows", 0), ("vocab_rows", "30522"), ("max_positions", True)])
def test_malformed_limits_are_named(bundle, field, value):
    edit_manifest(bundle, lambda m: m.update({field: value}))
    with pytest.raises(ValueError, match=f"'{field}' must be an int"):
        Bundle.load(bundle)


# -------------------------------------------------------------------------------- confinement


@pytest.mark.parametrize("entry, name", [
    ("files.fp32", "../../../../etc/hostname"),
    ("files.int8", "/etc/hostname"),
    ("files.tokenizer", "sub/../../tokenizer.json"),
    ("engine_files.int8", "../model.int8.engine.onnx"),
    ("files.fp32", ""),
    ("files.fp32", 7),
])
def test_file_entries_must_stay_in_the_bundle(bundle, entry, name):
    key, precision = entry.split(".")
    edit_manifest(bundle, lambda m: m[key].update({precision: name}))
    with pytest.raises(ValueError, match=rf"{entry}"):
        Reranker(bundle)


def test_checksum_names_must_stay_in_the_bundle(bundle):
    edit_manifest(bundle, lambda m: m["checksums_sha256"].update({"../outside": "0" * 64}))
    with pytest.raises(ValueError, match=r"checksums_sha256\['../outside'\] is '../outside'"):
        Bundle.load(bundle)


def test_symlinks_out_of_the_bundle_are_refused(bundle, tmp_path):
    outside = tmp_path / "outside.json"
    shutil.copyfile(bundle / "tokenizer.json", outside)
    (bundle / "tokenizer.json").unlink()
    os.symlink(outside, bundle / "tokenizer.json")
    with pytest.raises(ValueError, match="files.tokenizer is 'tokenizer.json', which leads out of the bundle"):
        Reranker(bundle)
    os.symlink(tmp_path, bundle / "linked")  # a folder link, too
    edit_manifest(bundle, lambda m: m["files"].update(tokenizer="linked/outside.json"))
    with pytest.raises(ValueError, match="leads out of the bundle"):
        Reranker(bundle)


def test_symlinks_inside_the_bundle_are_fine(bundle):
    (bundle / "sub").mkdir()
    shutil.move(bundle / "tokenizer.json", bundle / "sub" / "tokenizer.json")
    os.symlink("sub/tokenizer.json", bundle / "tokenizer.json")
    assert Reranker(bundle).score_pairs([("q", "d")]).shape == (1,)
