"""The LangChain and LlamaIndex adapters, each through its framework's own usage pattern; skipped
when the framework is not installed (extras [langchain], [llamaindex])."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from integration_cases import DOCS, QUERY, crossrank_home_set
from fixture_helpers import REPO, _need_export_extra, make_tiny_model_dir

from crossrank.integrations.model_folder import resolve_model
from crossrank.reranker import Reranker

pytest_plugins = ["integration_fixtures"]  # its fixtures: crossrank_home, hf_folder, models

TOP_N = 3


@pytest.fixture(scope="module")
def folder(tmp_path_factory, minilm_model_dir):
    _need_export_extra()
    return make_tiny_model_dir(tmp_path_factory.mktemp("hf") / "tiny", minilm_model_dir)


@pytest.fixture(scope="module")
def bundle(folder, crossrank_home_dir):
    with crossrank_home_set(crossrank_home_dir):
        return resolve_model(folder, progress=False).bundle


def _expected(bundle) -> tuple[list[int], np.ndarray]:
    """The best TOP_N documents' indices, best first, and every document's score."""
    scores = Reranker(bundle).score_pairs([(QUERY, doc) for doc in DOCS])
    return list(np.argsort(-scores, kind="stable")[:TOP_N]), scores


def test_adapter_modules_import_without_their_frameworks():
    code = ("import sys; import crossrank.integrations.langchain, crossrank.integrations.llama_index; "
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('langchain_core', 'llama_index')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO,
                         check=True)
    assert run.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------ LangChain


def test_langchain_cross_encoder_reranker_and_compression_retriever(bundle):
    pytest.importorskip("langchain_core")
    pytest.importorskip("langchain_classic")
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    from crossrank.integrations.langchain import CrossrankCrossEncoder

    class Everything(BaseRetriever):
        """Stage one: every document."""

        def _get_relevant_documents(self, query, *, run_manager):
            return [Document(page_content=doc, metadata={"index": i}) for i, doc in enumerate(DOCS)]

    order, scores = _expected(bundle)
    model = CrossrankCrossEncoder(bundle)
    np.testing.assert_array_equal(model.score([(QUERY, doc) for doc in DOCS]), scores)
    compressor = CrossEncoderReranker(model=model, top_n=TOP_N)
    documents = Everything().invoke(QUERY)
    assert [d.metadata["index"] for d in compressor.compress_documents(documents, QUERY)] == order
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=Everything())
    assert [d.metadata["index"] for d in retriever.invoke(QUERY)] == order


def test_langchain_adapter_takes_a_folder_or_a_reranker(bundle, folder, crossrank_home):
    pytest.importorskip("langchain_core")
    from crossrank.integrations.langchain import CrossrankCrossEncoder

    reranker = Reranker(bundle)
    assert CrossrankCrossEncoder(reranker).reranker is reranker
    assert CrossrankCrossEncoder(folder, progress=False).reranker.bundle.path == bundle
    with pytest.raises(ValueError, match="precision: pass them when building the Reranker"):
        CrossrankCrossEncoder(reranker, precision="fp32")
    assert CrossrankCrossEncoder(bundle).score([]) == []


# ------------------------------------------------------------------------------------------ LlamaIndex


def _nodes():
    from llama_index.core.schema import NodeWithScore, TextNode

    return [NodeWithScore(node=TextNode(text=doc, id_=str(i)), score=1.0 - i / 10) for i, doc in enumerate(DOCS)]


def test_llama_index_postprocessor_with_a_query_bundle(bundle):
    pytest.importorskip("llama_index.core")
    from llama_index.core.schema import QueryBundle

    from crossrank.integrations.llama_index import CrossrankRerank

    order, scores = _expected(bundle)
    rerank = CrossrankRerank(model=bundle, top_n=TOP_N, keep_retrieval_score=True)
    best = rerank.postprocess_nodes(_nodes(), query_bundle=QueryBundle(QUERY))
    assert [int(n.node.id_) for n in best] == order
    np.testing.assert_allclose([n.score for n in best], scores[order], rtol=1e-6)
    assert [n.node.metadata["retrieval_score"] for n in best] == [1.0 - i / 10 for i in order]
    assert [int(n.node.id_) for n in rerank.postprocess_nodes(_nodes(), query_str=QUERY)] == order
    assert rerank.postprocess_nodes([], query_bundle=QueryBundle(QUERY)) == []
    with pytest.raises(ValueError, match="query_bundle is missing"):
        rerank.postprocess_nodes(_nodes())
    with pytest.raises(ValueError, match="top_n must be a positive int"):
        CrossrankRerank(model=bundle, top_n=0)


def test_llama_index_ranks_like_its_sentence_transformer_rerank(folder, crossrank_home):
    """Same folder, same top_n: the same nodes in the same order, scores within 1e-4 (fp32)."""
    pytest.importorskip("llama_index.core")
    pytest.importorskip("sentence_transformers")
    from llama_index.core.postprocessor import SentenceTransformerRerank
    from llama_index.core.schema import QueryBundle

    from crossrank.integrations.llama_index import CrossrankRerank

    theirs = SentenceTransformerRerank(model=str(folder), top_n=TOP_N, device="cpu")
    ours = CrossrankRerank(model=folder, top_n=TOP_N, precision="fp32", progress=False)
    expected = theirs.postprocess_nodes(_nodes(), query_bundle=QueryBundle(QUERY))
    got = ours.postprocess_nodes(_nodes(), query_bundle=QueryBundle(QUERY))
    assert [n.node.id_ for n in got] == [n.node.id_ for n in expected]
    np.testing.assert_allclose([n.score for n in got], [float(n.score) for n in expected], atol=1e-4, rtol=0)


@pytest.mark.parametrize("module, name, extra", [("langchain", "CrossrankCrossEncoder", "langchain"),
                                                 ("llama_index", "CrossrankRerank", "llamaindex")])
def test_a_missing_framework_says_which_extra_to_install(module, name, extra):
    code = ("import sys; sys.modules['langchain_core'] = sys.modules['llama_index'] = None; "
            f"from crossrank.integrations.{module} import {name}")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert run.returncode != 0 and f"pip install 'crossrank[{extra}]'" in run.stderr, run.stderr[-800:]
