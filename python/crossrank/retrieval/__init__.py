"""Two-stage retrieval around the reranker: stage-one retrievers, candidate pools, exact top-k, evaluation.

    from crossrank.retrieval import Pipeline, HybridRetriever
    pipe = Pipeline(HybridRetriever.build(docs), Reranker(bundle), pool_size=100, top_k=10)
    hits = pipe.search("query")   # Hit(id, text, index, stage_one_score, stage_two_score), best first

BM25 needs the ``[retrieval]`` extra (bm25s, PyStemmer), imported only when a BM25 index is built
or loaded; dense retrieval needs onnxruntime (a core dependency) and, once, the ``[export]`` extra to
export the bi-encoder.
"""

from crossrank.default_model import default_encoder
from crossrank.export.encoder import export_encoder
from crossrank.retrieval.base import CorpusTooSmallWarning, Hit, Retriever, load_retriever
from crossrank.retrieval.corpus import Corpus
from crossrank.retrieval.dense import DenseRetriever
from crossrank.retrieval.encoder import BiEncoder
from crossrank.retrieval.hybrid import HybridRetriever, reciprocal_rank_fusion
from crossrank.retrieval.lexical import BM25Retriever
from crossrank.retrieval.pipeline import Pipeline, Timings
from crossrank.retrieval.pool import CandidatePool, TokenStore, build_pool, pool_recall
from crossrank.retrieval.topk import exact_topk

__all__ = ["BM25Retriever", "BiEncoder", "CandidatePool", "Corpus", "CorpusTooSmallWarning", "DenseRetriever",
           "Hit", "HybridRetriever", "Pipeline", "Retriever", "Timings", "TokenStore", "build_pool",
           "default_encoder", "exact_topk", "export_encoder", "load_retriever", "pool_recall",
           "reciprocal_rank_fusion"]
