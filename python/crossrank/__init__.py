"""crossrank: fast cross-encoder reranking on CPU (C++ core over ONNX Runtime)."""

from crossrank.bundle import Bundle
from crossrank.default_model import default_model
from crossrank.reranker import RankResult, Reranker, ScoreStats, TruncationWarning
from crossrank.tokenizer import Encoding, Tokenizer

__version__ = "0.1.0"

__all__ = ["Bundle", "Encoding", "RankResult", "Reranker", "ScoreStats", "Tokenizer", "TruncationWarning",
           "default_model", "__version__"]
