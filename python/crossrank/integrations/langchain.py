"""LangChain: crossrank as a ``BaseCrossEncoder``, the model LangChain's ``CrossEncoderReranker`` calls.

    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
    from crossrank.integrations.langchain import CrossrankCrossEncoder

    compressor = CrossEncoderReranker(model=CrossrankCrossEncoder("path/to/bundle"), top_n=3)
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=your_retriever)

``score`` returns the bundle's scores (``Reranker.score_pairs``: its activation of its score label).
Needs ``pip install 'crossrank[langchain]'`` (langchain-core; ``CrossEncoderReranker`` itself lives in
langchain-classic). langchain-core is imported when the class is first used, so this module imports
without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crossrank.integrations._lazy import lazy_class
from crossrank.integrations.model_folder import load_reranker

INSTALL_HINT = "pip install 'crossrank[langchain]'"


def _build() -> type:
    """The adapter class, made on first use (it subclasses langchain-core's BaseCrossEncoder)."""
    try:
        from langchain_core.cross_encoders import BaseCrossEncoder
    except ImportError as error:
        raise ImportError(f"crossrank's LangChain adapter needs langchain-core ({error}): {INSTALL_HINT}") from error

    class CrossrankCrossEncoder(BaseCrossEncoder):
        """LangChain's ``BaseCrossEncoder`` scored by crossrank.

        Args:
            model: a crossrank bundle, a Hugging Face folder (exported once and cached), or a
                ``crossrank.Reranker``.
            **options: the Reranker's options (``precision``, ``threads``, ``max_length`` ...), or
                ``progress`` (the export's progress lines).
        """

        def __init__(self, model: Any, **options: Any) -> None:
            self.reranker = load_reranker(model, **options)

        def score(self, text_pairs: Sequence[tuple[str, str]]) -> list[float]:
            """Scores of (query, document) pairs, in input order."""
            return self.reranker.score_pairs(list(text_pairs)).tolist()

    return CrossrankCrossEncoder


__getattr__ = lazy_class(__name__, "CrossrankCrossEncoder", _build)
