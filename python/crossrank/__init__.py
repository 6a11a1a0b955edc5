"""crossrank: fast cross-encoder reranking on CPU (C++ core over ONNX Runtime)."""

from crossrank.bundle import Bundle
from crossrank.default_model import default_model
from crossrank.reranker import RankResult, Reranker, ScoreStats, TruncationWarning
from crossrank.retrieval import BM25Retriever, DenseRetriever, Hit, HybridRetriever, Pipeline, exact_topk
from crossrank.tokenizer import Encoding, Tokenizer

__version__ = "0.1.0"

__all__ = ["BM25Retriever", "Bundle", "DenseRetriever", "Encoding", "Hit", "HybridRetriever", "Pipeline",
           "RankResult", "Reranker", "ScoreStats", "Tokenizer", "TruncationWarning", "default_model",
           "exact_topk", "__version__"]
