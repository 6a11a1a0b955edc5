"""The Reranker end to end: parity with PyTorch, batching invariance, order, threads, bad input."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import crossrank
from crossrank import Reranker, TruncationWarning, workloads
from crossrank.bundle import Bundle


def _pairs(count: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    docs = workloads.passages(count, seed=seed)
    # Vary lengths hard: whole passages, a few words, empty documents.
    docs = [d if i % 3 else " ".join(d.split()[: rng.randint(0, 8)]) for i, d in enumerate(docs)]
    return [(workloads.query(i), d) for i, d in enumerate(docs)]


def _torch_logits(model, tokenizer_file, pairs, max_length, strategy="only_second"):
    """Reference: Hugging Face tokenizers + transformers in PyTorch, one pair at a time (no padding)."""
    import torch
    from tokenizers import Tokenizer as HFTokenizer

    tokenizer = HFTokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length, strategy=strategy)
    out = []
    with torch.no_grad():
        for query, doc in pairs:
            enc = tokenizer.encode(query, doc)
            ids = torch.tensor([enc.ids])
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                           token_type_ids=torch.tensor([enc.type_ids])).logits
            out.append(logits[0].numpy())
    return np.array(out, dtype=np.float32)


@pytest.fixture(scope="module")
def tiny(tiny_bundle):
    return Reranker(tiny_bundle, precision="fp32", activation="none")


def test_fp32_matches_pytorch_on_minilm_stand_in(minilm_bundle):
    from crossrank.default_model import seeded_model

    pairs = _pairs(48, seed=1) + [("", ""), ("query only", ""), ("", "document only")]
    reranker = Reranker(minilm_bundle, precision="fp32", activation="none", max_length=256)
    ours = reranker.score_pairs(pairs)
    reference = _torch_logits(seeded_model(), reranker.bundle.tokenizer_file, pairs, 256)[:, 0]
    assert ours.dtype == np.float32 and ours.shape == (len(pairs),)
    np.testing.assert_allclose(ours, reference, atol=1e-4, rtol=0)


def test_fp32_matches_pytorch_on_trained_head(weak_bundle, weak_model_dir):
    import torch  # noqa: F401  (reference only)
    from transformers import AutoModelForSequenceClassification

    pairs = _pairs(32, seed=2)
    reranker = Reranker(weak_bundle, precision="fp32", activation="none", max_length=512)
    model = AutoModelForSequenceClassification.from_pretrained(weak_model_dir).eval()
    reference = _torch_logits(model, reranker.bundle.tokenizer_file, pairs, 512)[:, 0]
    np.testing.assert_allclose(reranker.score_pairs(pairs), reference, atol=1e-4, rtol=0)


def test_sigmoid_activation_is_applied_to_the_logit(tiny_bundle, tiny):
    pairs = _pairs(10)
    logits = tiny.score_pairs(pairs)
    probs = Reranker(tiny_bundle, precision="fp32", activation="sigmoid").score_pairs(pairs)
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-logits.astype(np.float64))), atol=1e-6)


def test_score_does_not_depend_on_batch_mates(tiny_bundle, tiny):
    pairs = _pairs(60, seed=3)
    together = tiny.score_pairs(pairs)
    alone = np.array([tiny.score_pairs([p])[0] for p in pairs[:12]])
    np.testing.assert_allclose(together[:12], alone, atol=1e-5, rtol=0)
    # Different batch shapes: tiny batches, huge batches.
    for budget, size in [(512, 2), (65536, 256)]:
        other = Reranker(tiny_bundle, precision="fp32", activation="none",
                         max_padded_tokens=budget, max_batch_size=size).score_pairs(pairs)
        np.testing.assert_allclose(other, together, atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore::crossrank.TruncationWarning")  # max_length 128 cuts some passages
def test_int8_scores_do_not_depend_on_the_pool_by_default(minilm_bundle):
    # Dynamic int8 takes activation scales over a whole batch: by default every pair runs alone.
    int8 = Reranker(minilm_bundle, activation="none", max_length=128)
    pairs = _pairs(12, seed=8)
    together = int8.score_pairs(pairs)
    alone = np.array([int8.score_pairs([p])[0] for p in pairs])
    np.testing.assert_array_equal(together, alone)
    with pytest.warns(RuntimeWarning, match="depends on its batch mates"):  # and says so
        batched = Reranker(minilm_bundle, activation="none", max_length=128, max_batch_size=16)
    assert not np.array_equal(batched.score_pairs(pairs), together)  # why the default is 1


@pytest.mark.parametrize("max_batch_size", [1, 8])
def test_concurrent_batches_give_the_serial_scores(tiny_bundle, max_batch_size):
    pairs = _pairs(30, seed=9)
    serial = Reranker(tiny_bundle, threads=2, concurrent_batches=1, max_batch_size=max_batch_size)
    side_by_side = Reranker(tiny_bundle, threads=2, concurrent_batches=2, max_batch_size=max_batch_size)
    np.testing.assert_allclose(side_by_side.score_pairs(pairs), serial.score_pairs(pairs), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="concurrent_batches"):
        Reranker(tiny_bundle, threads=2, concurrent_batches=3)


def test_scores_come_back_in_input_order(tiny):
    pairs = _pairs(40, seed=4)
    scores = tiny.score_pairs(pairs)
    assert len(set(scores.tolist())) > 30  # distinct scores, so a permutation would show
    order = np.random.default_rng(0).permutation(len(pairs))
    shuffled = tiny.score_pairs([pairs[i] for i in order])
    np.testing.assert_allclose(shuffled, scores[order], atol=1e-5, rtol=0)


def test_concurrent_threads_get_the_serial_results(tiny):
    pools = [_pairs(30, seed=s) for s in range(4)]
    expected = [tiny.score_pairs(p) for p in pools]
    results: dict[int, list[np.ndarray]] = {}

    def work(k: int) -> None:
        results[k] = [tiny.score_pairs(pools[(k + j) % 4]) for j in range(3)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        for j in range(3):
            np.testing.assert_allclose(results[k][j], expected[(k + j) % 4], atol=1e-6, rtol=0)


def test_int8_is_the_default_and_close_to_fp32(minilm_bundle):
    from scipy.stats import spearmanr

    pairs = _pairs(40, seed=5)
    int8 = Reranker(minilm_bundle, activation="none")
    assert int8.precision == "int8"
    fp32 = Reranker(minilm_bundle, precision="fp32", activation="none").score_pairs(pairs)
    scores = int8.score_pairs(pairs)
    assert not np.array_equal(scores, fp32)  # really a different graph
    assert spearmanr(scores, fp32).statistic > 0.8


def test_rank_orders_best_first_with_top_k(tiny):
    docs = [d for _, d in _pairs(25, seed=6)]
    scores = tiny.score_pairs([("what is a generator", d) for d in docs])
    hits = tiny.rank("what is a generator", docs, top_k=5)
    assert [h.index for h in hits] == list(np.argsort(-scores, kind="stable")[:5])
    assert all(isinstance(h, crossrank.RankResult) and h.document == docs[h.index] for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(tiny.rank("q", docs)) == len(docs)
    assert tiny.rank("q", []) == []


def test_rank_breaks_ties_by_input_order(tiny):
    hits = tiny.rank("same", ["identical text"] * 5)
    assert [h.index for h in hits] == [0, 1, 2, 3, 4]


def test_truncation_is_reported(tiny):
    long_doc = "word " * 2000
    with pytest.warns(TruncationWarning, match="1 of 2 pairs"):
        tiny.score_pairs([("q", long_doc), ("q", "short")])
    stats = tiny.last_stats
    assert stats.pairs == 2 and stats.truncated_pairs == 1 and stats.query_truncated_pairs == 0
    assert stats.real_tokens <= stats.padded_tokens
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny.score_pairs([("q", "short")])
    assert tiny.last_stats.truncated_pairs == 0


def test_overlong_query_falls_back_to_longest_first(tiny):
    query = "query " * 1000
    with pytest.warns(TruncationWarning):
        score = tiny.score_pairs([(query, "a document")])
    assert tiny.last_stats.query_truncated_pairs == 1 and np.isfinite(score).all()


def test_progress_bar_reaches_the_total(tiny, capsys):
    tiny.score_pairs(_pairs(20), show_progress=True)
    err = capsys.readouterr().err
    assert "crossrank" in err and "20/20" in err


# --- bad input: clear Python exceptions, never a crash or a silent drop ---------------------------

def test_empty_list_gives_empty_array(tiny):
    scores = tiny.score_pairs([])
    assert scores.shape == (0,) and scores.dtype == np.float32


def test_empty_strings_are_scored_not_dropped(tiny):
    scores = tiny.score_pairs([("", ""), ("q", ""), ("", "d")])
    assert scores.shape == (3,) and np.isfinite(scores).all()


@pytest.mark.parametrize("pairs, message", [
    ([("q", None)], "pair 0: document must be str, got None"),
    ([("q", "d"), (None, "d")], "pair 1: query must be str, got None"),
    ([("q", b"bytes")], "pair 0: document must be str, got bytes"),
    ([("q", 3)], "pair 0: document must be str, got int"),
    ([("q", "d", "x")], "pair 0 must be a"),
    (["qd"], "pair 0 must be a"),
    ("not a list", "pairs must be a sequence"),
    (None, "pairs must be a sequence"),
])
def test_wrong_types_raise_type_error(tiny, pairs, message):
    with pytest.raises(TypeError, match=message):
        tiny.score_pairs(pairs)


def test_lone_surrogates_raise_value_error(tiny):
    with pytest.raises(ValueError, match="document 1 is not valid Unicode"):
        tiny.score_pairs([("q", "fine"), ("q", "bad \ud800 text")])
    with pytest.raises(ValueError, match="query"):
        tiny.rank("\udfff", ["doc"])


def test_rank_rejects_bad_arguments(tiny):
    with pytest.raises(TypeError, match="single string"):
        tiny.rank("q", "a document")
    with pytest.raises(TypeError, match="document 1 must be str"):
        tiny.rank("q", ["ok", None])
    with pytest.raises(ValueError, match="top_k"):
        tiny.rank("q", ["d"], top_k=0)


def test_bad_options_raise_value_error(tiny_bundle):
    with pytest.raises(ValueError, match="precision"):
        Reranker(tiny_bundle, precision="int4")
    with pytest.raises(ValueError, match="max_length"):
        Reranker(tiny_bundle, max_length=100000)
    with pytest.raises(ValueError, match="truncation"):
        Reranker(tiny_bundle, truncation="only_first")


def test_missing_bundle(tmp_path):
    with pytest.raises(FileNotFoundError, match="bundle folder not found"):
        Reranker(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="not a crossrank bundle"):
        Reranker(tmp_path)


def _copy(bundle, tmp_path):
    return shutil.copytree(bundle, tmp_path / "bundle")


def test_corrupt_manifest(tiny_bundle, tmp_path):
    bundle = _copy(tiny_bundle, tmp_path)
    (bundle / "crossrank.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Reranker(bundle)
    (bundle / "crossrank.json").write_text(json.dumps({"activation": "relu"}))
    with pytest.raises(ValueError, match="activation"):
        Reranker(bundle)


def test_missing_model_file(tiny_bundle, tmp_path):
    bundle = _copy(tiny_bundle, tmp_path)
    (bundle / "model.int8.onnx").unlink()
    if crossrank._native.KERNELS == "avx512":  # the engine graph alone still serves int8
        assert Reranker(bundle, precision="int8").score_pairs([("q", "d")]).shape == (1,)
    (bundle / "model.int8.engine.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="no int8 model"):
        Reranker(bundle, precision="int8")
    assert Reranker(bundle, precision="fp32").score_pairs([("q", "d")]).shape == (1,)


def test_corrupt_onnx_file(tiny_bundle, tmp_path):
    bundle = _copy(tiny_bundle, tmp_path)
    graph = Bundle.load(bundle).runtime_model_file("fp32")
    graph.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match=f"{graph}.* is corrupt: its SHA-256 differs"):
        Reranker(bundle, precision="fp32")
    # Unchecked, ONNX Runtime's refusal is a ValueError naming the file too (the README's promise).
    with pytest.raises(ValueError, match=f"ONNX Runtime cannot load {graph}"):
        Reranker(bundle, precision="fp32", verify_checksums=False)


def test_onnx_graph_with_wrong_signature(tiny_bundle, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    bundle = _copy(tiny_bundle, tmp_path)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "wrong",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              Bundle.load(bundle).runtime_model_file("fp32"))
    with pytest.raises(ValueError, match="expected inputs input_ids, attention_mask"):
        Reranker(bundle, precision="fp32", verify_checksums=False)


def test_import_does_not_pull_in_torch():
    code = "import sys, crossrank; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pre_tokenized_documents_score_like_text(tiny):
    pairs = _pairs(30, seed=7)
    query = "how are default argument values evaluated"
    docs = [d for _, d in pairs]
    doc_ids = tiny.encode_documents(docs)
    np.testing.assert_array_equal(tiny.score_token_ids(query, doc_ids),
                                  tiny.score_pairs([(query, d) for d in docs]))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tiny.score_token_ids(query, [[1, 2, 10**7]])
    with pytest.raises(TypeError, match="token ids"):
        tiny.score_token_ids(query, [["a"]])
