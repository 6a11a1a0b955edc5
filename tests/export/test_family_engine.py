"""Each family's bundle end to end through crossrank's engine: ``Reranker`` against PyTorch (fp32
within 1e-4, on crossrank's own tokenization), int8 against fp32, ``crossrank eval --model`` and
``crossrank bench --model``. XLM-R and ModernBERT skip while crossrank's tokenizer does not read their
Unigram / byte-level BPE tokenizer.json ("needs the Unigram/BPE tokenizer"); they run by themselves
once those tokenizers are in the core. Meanwhile an XLM-R graph with a WordPiece vocabulary in
RoBERTa's pair layout (family_models.WORDPIECE_STAND_IN) runs XLM-R's graph (position offset, no
token_type_ids) through the engine today."""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_cases import PAIRS
from family_bundles import FAMILY_MODELS, family_bundle, family_source, skip_unless_engine_reads
from family_models import SHAPES, WORDPIECE_STAND_IN

from crossrank import cli
from crossrank.reranker import Reranker

MODELS = [FAMILY_MODELS[f] for f in sorted(FAMILY_MODELS)] + [WORDPIECE_STAND_IN]
SHORT_PAIRS = PAIRS[:-1]  # the last one is longer than any tiny model's max_length


@pytest.fixture(scope="module", params=MODELS)
def served(request, tmp_path_factory):
    """(family, source folder, bundle folder), skipped while the engine cannot read the tokenizer."""
    family = SHAPES[request.param]["family"]
    bundle = family_bundle(request.param, tmp_path_factory)
    skip_unless_engine_reads(bundle, family)
    return family, family_source(request.param, tmp_path_factory), bundle


def _torch_logits(source, bundle, pairs, max_length: int) -> np.ndarray:
    """PyTorch's logits on ids from Hugging Face tokenizers reading the bundle's tokenizer.json."""
    import torch
    from tokenizers import Tokenizer as HFTokenizer
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(source).float().eval()
    tok = HFTokenizer.from_file(str(bundle / "tokenizer.json"))
    tok.enable_truncation(max_length=max_length, strategy="longest_first")
    tok.enable_padding(pad_id=int(model.config.pad_token_id or 0))
    enc = tok.encode_batch(pairs)
    feeds = {"input_ids": [e.ids for e in enc], "attention_mask": [e.attention_mask for e in enc],
             "token_type_ids": [e.type_ids for e in enc]}
    accepted = set(model.forward.__code__.co_varnames)
    with torch.inference_mode():
        return model(**{k: torch.tensor(v) for k, v in feeds.items() if k in accepted}).logits[:, 0].numpy()


def test_reranker_fp32_matches_pytorch(served):
    family, source, bundle = served
    reranker = Reranker(bundle, precision="fp32", activation="none", truncation="longest_first")
    ours = np.asarray(reranker.score_pairs(PAIRS, show_progress=False))
    reference = _torch_logits(source, bundle, PAIRS, reranker.max_length)
    assert np.ptp(reference) > 0.5
    assert np.abs(ours - reference).max() < 1e-4, family


def test_reranker_int8_agrees_with_fp32(served):
    family, _, bundle = served
    fp32 = np.asarray(Reranker(bundle, precision="fp32", activation="none").score_pairs(SHORT_PAIRS))
    int8 = np.asarray(Reranker(bundle, precision="int8", activation="none").score_pairs(SHORT_PAIRS))
    assert np.abs(int8 - fp32).max() < 0.2 * np.ptp(fp32), family
    ranked = Reranker(bundle).rank(SHORT_PAIRS[0][0], [d for _, d in SHORT_PAIRS], top_k=3)
    assert len(ranked) == 3 and ranked[0].score >= ranked[1].score >= ranked[2].score


def test_engine_graphs_are_kept_where_the_kernels_fit(served):
    family, _, bundle = served
    graphs = json.loads((bundle / "crossrank.json").read_text(encoding="utf-8"))["engine_graphs"]
    for entry in graphs.values():
        assert entry.get("file") and (bundle / entry["file"]).is_file() and "rejected" not in entry, family


@pytest.fixture
def beir(tmp_path):
    """A four-document BEIR folder with three judged queries."""
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    docs = [("10", "The cat sat on the mat."), ("11", "Dogs run in the park."),
            ("12", "The stock market fell sharply."), ("13", "Quarks and gluons interact strongly.")]
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in docs), encoding="utf-8")
    queries = [("1", "cat on a mat"), ("2", "stock market"), ("3", "gluons")]
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\t10\t1\n2\t12\t1\n3\t13\t1\n",
                                               encoding="utf-8")
    return folder


def test_crossrank_eval_reranks_with_the_bundle(served, beir, tmp_path, capsys):
    pytest.importorskip("bm25s")
    _, _, bundle = served
    out = tmp_path / "eval.json"
    assert cli.main(["eval", str(beir), "--retriever", "bm25", "--pool", "4", "--model", str(bundle),
                     "--json", str(out)]) == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result["metrics"]) == {"stage_one", "reranked"}
    # reranking reorders the same pool: recall at the pool depth is unchanged
    assert result["metrics"]["reranked"]["recall@4"] == result["metrics"]["stage_one"]["recall@4"]
    assert "+ rerank (" in capsys.readouterr().out


def test_crossrank_bench_times_the_bundle(served, tmp_path, capsys):
    _, _, bundle = served
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "--model", str(bundle), "--pools", "3", "--repeats", "1",
                     "--engines", "crossrank-int8,crossrank-fp32", "--json", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))["results"]
    assert [(r["engine"], r["pool"]) for r in rows] == [("crossrank-int8", 3), ("crossrank-fp32", 3)]
    assert all(r["pairs_per_s"] > 0 for r in rows)
