"""crossrank: fast cross-encoder reranking on CPU (C++ core over ONNX Runtime)."""

# Order matters once: crossrank.retrieval is loaded before crossrank.default_model. The export that
# builds the defaults reads BEIR pools through crossrank.retrieval.lexical, and the retrieval package
# re-exports the default bi-encoder; loading retrieval first lets each finish before the other needs
# it (the module graph itself has no cycle: scripts/check_structure.py, tests/test_structure.py).
from crossrank.retrieval import BM25Retriever, DenseRetriever, Hit, HybridRetriever, Pipeline, exact_topk  # noqa: I001
from crossrank._version import __version__
from crossrank.bundle import Bundle
from crossrank.default_model import default_model
from crossrank.integrations.sentence_transformers import CrossEncoder
from crossrank.reranker import Cancelled, RankResult, Reranker, ScoreStats, TruncationWarning
from crossrank.tokenizer import Encoding, Tokenizer


__all__ = ["BM25Retriever", "Bundle", "Cancelled", "CrossEncoder", "DenseRetriever", "Encoding", "Hit", "HybridRetriever",
           "Pipeline", "RankResult", "Reranker", "ScoreStats", "Tokenizer", "TruncationWarning", "default_model",
           "exact_topk", "__version__"]
