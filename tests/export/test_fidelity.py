"""The fidelity report and the int8 quality gate: metrics against hand-computed cases, pools,
report.json, the gate's decisions (fp32 fallback, mixed precision, pass), the Hub download path."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixture_helpers import crossrank_submodule

from crossrank.beir import read_beir

F = crossrank_submodule("export.fidelity")
onnx = pytest.importorskip("onnx")


def _manifest(bundle: Path) -> dict:
    return json.loads((bundle / "crossrank.json").read_text(encoding="utf-8"))


def _report(bundle: Path) -> dict:
    return json.loads((bundle / "report.json").read_text(encoding="utf-8"))


def _op_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


# ------------------------------------------------------------------------------- metrics


def test_kendall_tau_hand_computed():
    assert F.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert F.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # one discordant pair out of six: (5 - 1) / 6
    assert F.kendall_tau([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)
    # tau-b with a tie in the first ranking: S = 2, 2 untied pairs in a, 3 in b -> 2 / sqrt(6)
    assert F.kendall_tau([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))
    assert math.isnan(F.kendall_tau([1, 1, 1], [1, 2, 3]))
    assert math.isnan(F.kendall_tau([1], [1]))
    with pytest.raises(ValueError):
        F.kendall_tau([1, 2], [1, 2, 3])


def test_spearman_hand_computed():
    # d = (0, 1, 1): 1 - 6 * 2 / (3 * 8) = 0.5
    assert F.spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert F.spearman([0.1, 0.5, 0.9, 2.0], [-5, 0, 1, 100]) == pytest.approx(1.0)
    assert F.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_metrics_match_scipy_on_random_data():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (5, 30, 100):
        a = rng.normal(size=n)
        b = a + rng.normal(scale=0.5, size=n)
        b[:3] = b[3]  # some ties
        assert F.kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic)
        assert F.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)


def test_topk_overlap_hand_computed():
    a = [4.0, 3.0, 2.0, 1.0]
    assert F.topk_overlap(a, [4.0, 2.0, 3.0, 1.0], k=2) == pytest.approx(0.5)  # {0,1} vs {0,2}
    assert F.topk_overlap(a, [4.0, 2.0, 3.0, 1.0], k=3) == pytest.approx(1.0)
    assert F.topk_overlap(a, [1.0, 2.0, 3.0, 4.0], k=2) == 0.0
    assert F.topk_overlap(a, a, k=10) == 1.0  # fewer candidates than k: share of all of them
    scores = np.arange(30.0)
    swapped = scores.copy()
    swapped[[19, 20]] = swapped[[20, 19]]  # ranks 10 and 11 trade places
    assert F.topk_overlap(scores, swapped) == pytest.approx(0.9)


def test_ndcg_hand_computed():
    judgements = {"d1": 0, "d2": 2, "d3": 1, "d4": 3}  # d4 is judged but not in the pool
    scores, ids = [3.0, 2.0, 1.0], ["d1", "d2", "d3"]
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    idcg = 3 + 2 / math.log2(3) + 1 / math.log2(4)
    assert F.ndcg_at_k(scores, ids, judgements) == pytest.approx(dcg / idcg)
    # cut at k=1: only d1 (grade 0) counts
    assert F.ndcg_at_k(scores, ids, judgements, k=1) == 0.0
    assert F.ndcg_at_k([1.0, 3.0, 2.0], ["d1", "d4", "d2"], judgements, k=2) == pytest.approx(1.0)
    assert math.isnan(F.ndcg_at_k(scores, ids, {"d1": 0}))


def test_compare_reports_agreement_and_ndcg_drop():
    pools = [F.Pool("q1", ["a", "b", "c"], ["a", "b", "c"], "1"),
             F.Pool("q2", ["x", "y"], ["x", "y"], "2")]
    ref = [np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0])]
    test = [np.array([2.0, 3.0, 1.0]), np.array([1.0, 2.0])]
    qrels = {"1": {"a": 1}, "2": {"y": 2}}
    m = F.compare(ref, test, pools, qrels=qrels, k=1)
    assert m["pools"] == 2 and m["pairs"] == 5
    assert m["top1_overlap"] == pytest.approx(0.5) and m["top1_overlap_min"] == 0.0
    assert m["kendall_tau"] == pytest.approx((1 / 3 + 1) / 2)
    assert m["ndcg@1_reference"] == pytest.approx(1.0)
    assert m["ndcg@1_test"] == pytest.approx(0.5)
    assert m["ndcg@1_drop_points"] == pytest.approx(50.0)
    assert m["judged_queries"] == 2
    assert m["max_abs_score_diff"] == pytest.approx(1.0)


# ------------------------------------------------------------------------------- pools


def test_builtin_pools_are_deterministic_and_offline():
    pools = F.builtin_pools()
    assert len(pools) == 10 and all(len(p.docs) == 30 for p in pools)
    assert [p.docs for p in pools] == [p.docs for p in F.builtin_pools()]
    for p, (topic, question) in zip(pools, F.BUILTIN_QUERIES):
        assert p.query == question and p.query_id == f"builtin:{topic}"
        assert len(set(p.doc_ids)) == 30
        assert sum(i.startswith(f"{topic}/") for i in p.doc_ids) >= 3  # on-topic passages
        assert all(20 <= len(d.split()) <= 60 for d in p.docs)
    assert F.builtin_pools(seed=1)[0].docs != pools[0].docs
    with pytest.raises(ValueError):
        F.builtin_pools(n_pools=0)


def _write_beir(folder: Path, n_docs: int = 60, n_queries: int = 4) -> Path:
    rng = np.random.default_rng(0)
    words = ["wing", "flow", "shock", "boundary", "layer", "heat", "plate", "supersonic", "lift",
             "drag", "pressure", "cylinder", "vortex", "jet", "nozzle", "turbulent"]
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w") as f:
        for i in range(n_docs):
            text = " ".join(rng.choice(words, size=12))
            f.write(json.dumps({"_id": f"d{i}", "title": f"doc {i}", "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as f:
        for q in range(n_queries + 1):  # the last query has no judgement
            f.write(json.dumps({"_id": f"q{q}", "text": f"{words[q]} {words[q + 3]} effects"}) + "\n")
    with open(folder / "qrels" / "test.tsv", "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q in range(n_queries):
            for d in range(q, n_docs, 7):
                f.write(f"q{q}\td{d}\t{1 + d % 2}\n")
    return folder


@pytest.fixture(scope="module")
def beir_dir(tmp_path_factory) -> Path:
    return _write_beir(tmp_path_factory.mktemp("beir") / "toy")


def test_load_beir(beir_dir, tmp_path):
    corpus, queries, qrels = read_beir(beir_dir)
    assert len(corpus) == 60 and corpus["d0"].startswith("doc 0 ")
    assert len(queries) == 5 and set(qrels) == {"q0", "q1", "q2", "q3"}
    assert qrels["q0"]["d7"] == 2
    with pytest.raises(FileNotFoundError, match="not a BEIR folder"):
        read_beir(tmp_path)


def test_eval_pools_bm25_and_fallback(beir_dir, monkeypatch):
    pytest.importorskip("bm25s")
    pools, qrels, info = F.eval_pools(beir_dir, depth=20)
    assert info["candidates"].startswith("bm25s top-20") and info["queries"] == 4
    assert [p.query_id for p in pools] == ["q0", "q1", "q2", "q3"]  # judged queries only
    assert all(1 <= len(p.docs) <= 20 for p in pools) and set(qrels) == {"q0", "q1", "q2", "q3"}
    corpus, _, _ = read_beir(beir_dir)
    assert all(corpus[i] == d for p in pools for i, d in zip(p.doc_ids, p.docs))

    monkeypatch.setattr(F, "_bm25_candidates", lambda *a, **k: None)  # as if bm25s were missing
    pools, _, info = F.eval_pools(beir_dir, depth=20, max_queries=2)
    assert "bm25s not installed" in info["candidates"] and len(pools) == 2
    for p in pools:
        assert len(p.docs) == 20 and len(set(p.doc_ids)) == 20
        assert set(qrels[p.query_id]) <= set(p.doc_ids)  # every judged document is a candidate


# ------------------------------------------------------------------------------- report and gate


def _gate_module():
    return crossrank_submodule("export.gate")


def test_report_json_is_written(tiny_bundle):
    r = _report(tiny_bundle)
    assert r["format_version"] == 1 and r["engine"]
    assert r["fp32_vs_pytorch"]["max_abs_diff"] < 1e-4 and r["fp32_vs_pytorch"]["pairs"] == 8
    assert r["pool_sets"]["builtin"]["pools"] == 10 and r["pool_sets"]["builtin"]["pairs"] == 300
    base = r["variants"][0]
    assert base["name"] == "int8 per-channel" and base["kept_fp32"] == []
    m = base["metrics"]["builtin"]
    for key in ("top10_overlap", "top10_overlap_min", "kendall_tau", "spearman", "max_abs_score_diff"):
        assert isinstance(m[key], float), key
    assert 0.0 <= m["top10_overlap"] <= 1.0 and -1.0 <= m["kendall_tau"] <= 1.0
    g = r["gate"]
    assert g["decision"] in ("int8", "mixed", "fp32")
    assert g["thresholds"]["min_top10_overlap"] == 0.95 and g["thresholds"]["max_ndcg_drop_points"] == 0.5
    assert g["message"] and g["gated_on"] == ["builtin", "web"] == r["gated_on"]
    assert sum(bool(v.get("chosen")) for v in r["variants"]) == 1
    # crossrank.json carries the decision and every variant's numbers
    fm = _manifest(tiny_bundle)["fidelity"]
    assert fm["report"] == "report.json" and fm["gate"]["decision"] == g["decision"]
    assert [v["name"] for v in fm["variants"]] == [v["name"] for v in r["variants"]]
    assert fm["variants"][0]["metrics"]["builtin"]["top10_overlap"] == m["top10_overlap"]
    # the gate's own record says what dynamic int8 alone would give; the default is the fastest rung that passed
    assert g["default_precision"] in ("int8", "fp32")
    assert _manifest(tiny_bundle)["default_precision"] == r["rungs"]["chosen"]


def test_gate_falls_back_to_fp32_and_tries_mixed_precision(export_module, tiny_model_dir, tmp_path):
    Q = _gate_module()
    out = export_module.export_bundle(
        tiny_model_dir, tmp_path / "b", progress=False,
        gate=Q.GateThresholds(min_top10_overlap=1.01, max_variants=2, budget_s=300))
    m, r = _manifest(out), _report(out)
    assert m["default_precision"] == "fp32"
    assert r["gate"]["decision"] == "fp32" and r["gate"]["passed"] is False
    assert "FAILED" in r["gate"]["message"] and any("quality gate" in n for n in m["notes"])
    # sensitivity measured for every operator group, then two mixed variants tried
    groups = {s["group"] for s in r["sensitivity"]}
    assert {"embeddings", "layer.0.attention", "layer.0.ffn", "layer.1.attention", "layer.1.ffn",
            "head"} == groups
    assert len(r["variants"]) == 3
    base, *mixed = r["variants"]
    for v in mixed:
        assert v["name"].startswith("mixed") and v["kept_fp32"] and v["excluded_nodes"]
        assert v["passed"] is False
    # the second variant keeps more in fp32: fewer quantized MatMuls / attentions
    q0, q2 = base["quantized_ops"], mixed[1]["quantized_ops"]
    assert (q2.get("MatMulInteger", 0) + q2.get("QAttention", 0)
            < q0.get("MatMulInteger", 0) + q0.get("QAttention", 0))
    # the engine now defaults to fp32 for this bundle
    try:
        from crossrank import Reranker
    except ImportError:
        return
    assert Reranker(out).precision == "fp32"


def test_gate_passes_when_trivially_satisfied_and_reports_ndcg(export_module, tiny_model_dir, beir_dir,
                                                              tmp_path):
    Q = _gate_module()
    out = export_module.export_bundle(
        tiny_model_dir, tmp_path / "b", progress=False, eval_dir=beir_dir,
        gate=Q.GateThresholds(min_top10_overlap=0.0, max_ndcg_drop_points=100.0))
    m, r = _manifest(out), _report(out)
    rungs = r["rungs"]["rungs"]
    assert all(v["passed"] for v in rungs.values())  # every rung passes: the fastest one is the default
    assert m["default_precision"] == min(rungs, key=lambda p: rungs[p]["seconds"])
    assert r["gate"]["decision"] == "int8" and r["gate"]["passed"] is True
    assert r["gate"]["gated_on"] == ["eval"] and r["sensitivity"] == []
    assert len(r["variants"]) == 1 and r["variants"][0]["chosen"] is True
    ev = r["variants"][0]["metrics"]["eval"]
    for key in ("ndcg@10_reference", "ndcg@10_test", "ndcg@10_drop_points"):
        assert isinstance(ev[key], float), key
    assert ev["judged_queries"] == 4
    assert r["pool_sets"]["eval"]["candidates"]


def test_gate_off_reports_only(export_module, tiny_model_dir, tmp_path):
    out = export_module.export_bundle(tiny_model_dir, tmp_path / "b", progress=False, gate=False)
    r = _report(out)
    assert r["gate"]["decision"] == "off" and len(r["variants"]) == 1
    assert _manifest(out)["default_precision"] == "int8"
    out = export_module.export_bundle(tiny_model_dir, tmp_path / "c", progress=False, fidelity=False)
    assert not (out / "report.json").exists() and "fidelity" not in _manifest(out)
    with pytest.raises(FileNotFoundError, match="not a BEIR folder"):
        export_module.export_bundle(tiny_model_dir, tmp_path / "d", progress=False, eval_dir=tmp_path)


def test_mixed_precision_variant_excludes_nodes(tiny_bundle, tmp_path):
    Q = _gate_module()
    groups = Q.op_groups(tiny_bundle / "model.onnx")
    names = [g.name for g in groups]
    assert names == ["embeddings", "layer.0.attention", "layer.0.ffn", "layer.1.attention",
                     "layer.1.ffn", "head"]
    assert sum(g.cost for g in groups) == pytest.approx(1.0)
    assert groups[0].cost == 0.0 and groups[-1].cost == 0.0
    full = Q.quantize_variant(tiny_bundle / "model.onnx", tmp_path / "full.onnx")["quantized_ops"]
    keep = [n for g in groups if g.name in ("layer.0.attention", "layer.1.ffn") for n in g.nodes]
    mixed = Q.quantize_variant(tiny_bundle / "model.onnx", tmp_path / "mixed.onnx", exclude=keep)
    mixed = mixed["quantized_ops"]
    assert mixed["QAttention"] == full["QAttention"] - 1
    assert mixed["MatMulInteger"] == full["MatMulInteger"] - 3  # attention output + two FFN
    ops = _op_counts(tmp_path / "mixed.onnx")
    assert ops["Attention"] == 1 and ops["MatMul"] == 3


def test_weak_model_gate(weak_bundle):
    """On the briefly fine-tuned MiniLM the report holds real agreement numbers (not quality)."""
    r = _report(weak_bundle)
    base = r["variants"][0]["metrics"]["builtin"]
    assert 0.5 < base["top10_overlap"] <= 1.0 and 0.5 < base["kendall_tau"] <= 1.0
    assert r["fp32_vs_pytorch"]["max_abs_diff"] < 1e-4
    decision = r["gate"]["decision"]
    assert _manifest(weak_bundle)["default_precision"] == ("fp32" if decision == "fp32" else "int8")
    if decision in ("mixed", "fp32") and r["gate"]["thresholds"]["mixed_precision"]:
        assert len(r["variants"]) >= 2 and r["sensitivity"]


# ------------------------------------------------------------------------------- the Hub path


def test_hub_id_goes_through_the_same_code_with_only_the_download_mocked(export_module, tiny_model_dir,
                                                                          tmp_path, monkeypatch):
    """A Hub id is exported by the same code as a folder; only huggingface_hub's download functions
    are replaced, by ones that serve files from a local folder as if it were the repository."""
    th = pytest.importorskip("transformers.utils.hub")
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    repo_id = "someone/tiny-cross-encoder"
    commit = "0123456789abcdef0123456789abcdef01234567"
    served = tmp_path / "repo"
    shutil.copytree(tiny_model_dir, served)
    cache = tmp_path / "hf-cache"
    requested: list[str] = []

    def hf_hub_download(*args, subfolder=None, cache_dir=None, **kwargs):
        """What the real one does, minus the network: place the file in the cache layout
        (models--org--name/refs/main, snapshots/<commit>/...) and return its path."""
        args = list(args) + [None, None]
        repo = kwargs.get("repo_id") or args[0]
        filename = kwargs.get("filename") or args[1]
        if repo != repo_id:
            raise RepositoryNotFoundError(f"{repo} not found")
        rel = f"{subfolder}/{filename}" if subfolder else filename
        requested.append(rel)
        if not (served / rel).is_file():
            raise EntryNotFoundError(f"{rel} is not in {repo}")
        root = Path(cache_dir or cache) / ("models--" + repo.replace("/", "--"))
        (root / "refs").mkdir(parents=True, exist_ok=True)
        (root / "refs" / "main").write_text(commit)
        dest = root / "snapshots" / commit / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(served / rel, dest)
        return str(dest)

    def snapshot_download(repo=None, *args, repo_id=None, allow_patterns=None, cache_dir=None, **kwargs):
        import fnmatch

        repo = repo or repo_id
        if repo != repo_id:
            raise RepositoryNotFoundError(f"{repo} not found")
        patterns = [allow_patterns] if isinstance(allow_patterns, str) else allow_patterns or ["*"]
        for f in served.rglob("*"):
            rel = f.relative_to(served).as_posix()
            if f.is_file() and any(fnmatch.fnmatch(rel, p) for p in patterns):
                hf_hub_download(repo, rel, cache_dir=cache_dir)
        return str(Path(cache_dir or cache) / ("models--" + repo.replace("/", "--")) / "snapshots" / commit)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(th, "TRANSFORMERS_CACHE", str(cache))  # keep the user's cache out of it
    monkeypatch.setattr(th, "hf_hub_download", hf_hub_download)
    monkeypatch.setattr(th, "snapshot_download", snapshot_download)

    out = export_module.export_bundle(repo_id, tmp_path / "bundle", progress=False, fidelity=False)
    m = _manifest(out)
    assert m["source"]["model"] == repo_id
    assert "config.json" in requested and any(f.endswith(".safetensors") for f in requested)
    assert m["verification"]["fp32_max_abs_diff"] < 1e-4
    assert m["tokenizer"]["origin"].startswith("built")  # a Hub tokenizer goes through transformers
