"""LlamaIndex: crossrank as a node postprocessor, in place of ``SentenceTransformerRerank``.

    from crossrank.integrations.llama_index import CrossrankRerank

    rerank = CrossrankRerank(model="path/to/bundle", top_n=3)
    nodes = rerank.postprocess_nodes(nodes, query_bundle=QueryBundle("my query"))
    # or: index.as_query_engine(similarity_top_k=20, node_postprocessors=[rerank])

Each node's score becomes the bundle's score of (query, the node's content as embedded), as
``SentenceTransformerRerank`` does; the best ``top_n`` come back, best first (ties keep input
order). Needs ``pip install 'crossrank[llamaindex]'`` (llama-index-core), imported when the class is
first used, so this module imports without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crossrank._validation import check_positive_int
from crossrank.integrations._lazy import lazy_class
from crossrank.integrations.model_folder import load_reranker

INSTALL_HINT = "pip install 'crossrank[llamaindex]'"


def _build() -> type:
    """The postprocessor class, made on first use (it subclasses llama-index-core's BaseNodePostprocessor)."""
    try:
        from llama_index.core.bridge.pydantic import Field, PrivateAttr
        from llama_index.core.callbacks import CBEventType, EventPayload
        from llama_index.core.postprocessor.types import BaseNodePostprocessor
        from llama_index.core.schema import MetadataMode
    except ImportError as error:
        raise ImportError(f"crossrank's LlamaIndex adapter needs llama-index-core ({error}): {INSTALL_HINT}") \
            from error

    class CrossrankRerank(BaseNodePostprocessor):
        """Rerank nodes with crossrank.

        Args:
            model: a crossrank bundle, a Hugging Face folder (exported once and cached), or a
                ``crossrank.Reranker``.
            top_n: nodes to return.
            keep_retrieval_score: keep each node's previous score in its metadata ("retrieval_score").
            **options: the Reranker's options (``precision``, ``threads`` ...), or ``progress``.
        """

        model: str = Field(description="The crossrank bundle folder.")
        top_n: int = Field(description="Number of nodes to return sorted by score.")
        keep_retrieval_score: bool = Field(default=False, description="Keep the retrieval score in metadata.")
        _reranker: Any = PrivateAttr()

        def __init__(self, model: Any, top_n: int = 2, keep_retrieval_score: bool = False, **options: Any) -> None:
            top_n = check_positive_int(top_n, "top_n")
            reranker = load_reranker(model, **options)
            super().__init__(model=str(reranker.bundle.path), top_n=top_n, keep_retrieval_score=keep_retrieval_score)
            self._reranker = reranker

        @classmethod
        def class_name(cls) -> str:
            return "CrossrankRerank"

        def _postprocess_nodes(self, nodes: list[Any], query_bundle: Any = None) -> list[Any]:
            if query_bundle is None:
                raise ValueError("query_bundle is missing: pass postprocess_nodes(nodes, query_bundle=QueryBundle(query))")
            if not nodes:
                return []
            pairs = [(query_bundle.query_str, node.node.get_content(metadata_mode=MetadataMode.EMBED))
                     for node in nodes]
            payload = {EventPayload.NODES: nodes, EventPayload.MODEL_NAME: self.model,
                       EventPayload.QUERY_STR: query_bundle.query_str, EventPayload.TOP_K: self.top_n}
            with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
                scores = self._reranker.score_pairs(pairs)
                for node, score in zip(nodes, scores):
                    if self.keep_retrieval_score:
                        node.node.metadata["retrieval_score"] = node.score
                    node.score = float(score)
                best = [nodes[i] for i in np.argsort(-scores, kind="stable")[:self.top_n]]
                event.on_end(payload={EventPayload.NODES: best})
            return best

    return CrossrankRerank


__getattr__ = lazy_class(__name__, "CrossrankRerank", _build)
