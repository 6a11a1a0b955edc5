"""Dense and hybrid stage one: the ONNX bi-encoder against sentence-transformers, retrieval, save/load.

The ``encoder_dir`` fixture takes the cached default encoder ($CROSSRANK_HOME/models/minilm-l6-embed)
when it is there, else exports it once per session into a temporary folder (~15 s, needs the
``[export]`` extra).
"""

from __future__ import annotations

import numpy as np
import pytest

from crossrank.retrieval import BiEncoder, DenseRetriever, HybridRetriever, Pipeline, load_retriever
from crossrank.default_model import default_encoder_dir
from crossrank.export.encoder import ENCODER_MANIFEST, export_encoder

DOCS = [
    ("pets", "My cat loves to sleep on the warm windowsill all afternoon."),
    ("finance", "Interest rates were raised by the central bank to fight inflation."),
    ("space", "The rover landed on Mars and sent back photos of red dust."),
    ("cooking", "Whisk the eggs with sugar, then fold in the flour gently."),
    ("sport", "The striker scored twice in the second half of the match."),
]


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory, minilm_model_dir) -> object:
    cached = default_encoder_dir()
    if (cached / ENCODER_MANIFEST).is_file():
        return cached
    pytest.importorskip("optimum.exporters.onnx")
    pytest.importorskip("torch")
    return export_encoder(minilm_model_dir, tmp_path_factory.mktemp("encoders") / "minilm-l6-embed")


@pytest.fixture(scope="session")
def encoder(encoder_dir) -> BiEncoder:
    return BiEncoder(encoder_dir, threads=1)


@pytest.fixture(scope="module")
def dense(encoder) -> DenseRetriever:
    return DenseRetriever.build(DOCS, encoder=encoder)


TEXTS = [
    "A man is eating food.",
    "what is the capital of france",
    "",
    "Crème brûlée — naïve über-cooks; 日本語のテキスト。 Ünïcödé!",
    " ".join(["The quick brown fox jumps over the lazy dog."] * 60),  # > 256 tokens: truncated
    "short",
    "Interest rates were raised by the central bank.",
]


def test_embeddings_match_sentence_transformers(encoder, minilm_model_dir):
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(str(minilm_model_dir), device="cpu")
    assert model.max_seq_length == encoder.max_length == 256
    ref = model.encode(TEXTS, convert_to_numpy=True, batch_size=3)
    got = encoder.encode(TEXTS)
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    cosine = np.sum(got * ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert np.all(1.0 - cosine < 1e-5), cosine
    assert np.max(np.abs(got - ref)) < 1e-5
    for text, row in zip(TEXTS, got):
        np.testing.assert_allclose(encoder.encode_query(text), row, atol=1e-6)


def test_encoder_tokenization_matches_hugging_face(encoder, minilm_model_dir):
    tokenizers = pytest.importorskip("tokenizers")
    hf = tokenizers.Tokenizer.from_file(str(minilm_model_dir / "tokenizer.json"))
    hf.no_padding()
    hf.enable_truncation(max_length=256)
    for text in TEXTS:
        assert encoder.tokenize(text) == hf.encode(text).ids


def test_encoder_bad_input(encoder, tmp_path):
    with pytest.raises(TypeError, match="text 1 must be str"):
        encoder.encode(["ok", None])
    with pytest.raises(TypeError, match="sequence of str"):
        encoder.encode("one string")
    with pytest.raises(FileNotFoundError, match="no crossrank encoder"):
        BiEncoder(tmp_path)
    assert encoder.encode([]).shape == (0, 384)


def test_dense_retrieval_finds_the_meaning(dense):
    assert dense.search("kitten napping in the sun", 1)[0].id == "pets"
    assert dense.search("monetary policy and prices", 1)[0].id == "finance"
    assert dense.search("planetary exploration robot", 1)[0].id == "space"
    assert dense.search("baking a cake", 1)[0].id == "cooking"
    assert dense.search("football goal", 1)[0].id == "sport"
    hits = dense.search("football goal", 5)
    scores = [h.stage_one_score for h in hits]
    assert scores == sorted(scores, reverse=True) and -1.0 <= scores[-1] <= scores[0] <= 1.0
    many = dense.retrieve_many(["kitten napping", "football goal"], 3)
    assert many[0][0].tolist() == dense.retrieve("kitten napping", 3)[0].tolist()


def test_dense_save_load_round_trip(dense, encoder, tmp_path):
    dense.save(tmp_path / "dense")
    again = load_retriever(tmp_path / "dense", encoder=encoder)
    assert isinstance(again, DenseRetriever) and again.corpus == dense.corpus
    assert np.array_equal(again.embeddings, dense.embeddings)
    a, b = dense.retrieve("interest rates", 5), again.retrieve("interest rates", 5)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    mapped = DenseRetriever.load(tmp_path / "dense", encoder=encoder, mmap=True)
    assert np.array_equal(mapped.retrieve("interest rates", 5)[0], a[0])


def test_hybrid_fuses_both_and_round_trips(dense, encoder, tmp_path):
    pytest.importorskip("bm25s")
    from crossrank.retrieval import BM25Retriever

    hybrid = HybridRetriever(BM25Retriever.build(DOCS), dense, depth=5)
    # "windowsill" only matches lexically, "kitten" only semantically: both lead to "pets"
    assert hybrid.search("kitten windowsill", 1)[0].id == "pets"
    hits = hybrid.search("central bank", 5)
    assert hits[0].id == "finance"
    lex = [i for i in hybrid.lexical.retrieve("central bank", 5)[0]]
    den = [i for i in dense.retrieve("central bank", 5)[0]]
    expected = {i: 1 / (60 + lex.index(i) + 1) + 1 / (60 + den.index(i) + 1) for i in range(5)}
    for h in hits:
        assert h.stage_one_score == pytest.approx(expected[h.index], rel=1e-6)
    hybrid.save(tmp_path / "hybrid")
    again = load_retriever(tmp_path / "hybrid", encoder=encoder)
    assert isinstance(again, HybridRetriever)
    for query in ("kitten windowsill", "central bank", "goal"):
        assert [h.id for h in again.search(query, 5)] == [h.id for h in hybrid.search(query, 5)]
    pipe = Pipeline(again, pool_size=3, top_k=2)
    assert [h.id for h in pipe.search("central bank")] == [h.id for h in hits[:2]]
    with pytest.raises(ValueError, match="different corpora"):
        HybridRetriever(BM25Retriever.build(DOCS[:4]), dense)
