"""Request and response models: Cohere's rerank (v1, v2) and Jina's as one superset, and TEI's.

The models are pydantic classes built on first use by :func:`schemas` (pydantic comes with the
``[serve]`` extra; this module imports without it). Types are strict (``"5"`` is not a number), strings
must not be empty, and a document is a string or an object with a ``text`` string.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

# The most windows a request may ask per document (each is one more pair in the queue, whose token
# bound still applies): 64 windows of ~500 tokens cover ~24,000 tokens.
MAX_CHUNKS_PER_DOC = 64
TEXT_SCHEMA = {"anyOf": [{"type": "string", "minLength": 1},
                         {"type": "object", "properties": {"text": {"type": "string", "minLength": 1}},
                          "required": ["text"]}]}


def document_text(value: Any) -> str:
    """A document's text: VALUE itself if a non-empty str, else its ``text`` field."""
    if isinstance(value, dict):
        if "text" not in value:
            raise ValueError('a document object needs a "text" field')
        value = value["text"]
    if not isinstance(value, str):
        raise ValueError(f"must be a string or an object with a \"text\" string, got {type(value).__name__}")
    if not value:
        raise ValueError("must not be empty")
    return value


def non_empty(value: str) -> str:
    """VALUE, unless it is empty."""
    if not value:
        raise ValueError("must not be empty")
    return value


@functools.cache
def schemas() -> SimpleNamespace:
    """The pydantic models, built once: CohereRequest, CohereResponse, CohereResult, TeiRequest, TeiResult."""
    return SimpleNamespace(**_request_models(), **_response_models())


def _request_models() -> dict[str, type]:
    from typing import Annotated, Literal

    from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

    Text = Annotated[str, AfterValidator(non_empty)]
    Document = Annotated[str, BeforeValidator(document_text), WithJsonSchema(TEXT_SCHEMA)]

    class Strict(BaseModel):
        model_config = ConfigDict(strict=True, extra="ignore")

    class CohereRequest(Strict):
        """Cohere v1/v2 and Jina rerank request (unknown fields such as ``rank_fields`` are ignored)."""

        model: str | None = Field(None, description="ignored: the server has one model")
        query: Text
        documents: list[Document] = Field(min_length=1)
        top_n: int | None = Field(None, gt=0, description="results to return; default: all")
        return_documents: bool = Field(True, description="include each document's text (Jina's default)")
        max_tokens_per_doc: int | None = Field(4096, gt=0, description="documents are cut to this many tokens")
        max_chunks_per_doc: int | None = Field(
            None, gt=0, le=MAX_CHUNKS_PER_DOC,
            description="score each document as its best window (MaxP), at most this many windows of what fits "
                        "after the query; default: one window, the rest truncated")

    class TeiRequest(Strict):
        """TEI's /rerank request."""

        query: Text
        texts: list[Text] = Field(min_length=1)
        raw_scores: bool = Field(False, description="logits instead of the model's activation")
        return_text: bool = False
        truncate: bool | None = Field(None, description="default: the server's --auto-truncate (off)")
        truncation_direction: Literal["Right", "Left", "right", "left"] = "Right"

    return {"CohereRequest": CohereRequest, "TeiRequest": TeiRequest}


def _response_models() -> dict[str, type]:
    from pydantic import BaseModel

    class ResultDocument(BaseModel):
        text: str

    class CohereResult(BaseModel):
        index: int
        relevance_score: float
        document: ResultDocument | None = None

    class CohereResponse(BaseModel):
        """Cohere's response (id, results, meta) plus Jina's (model, usage)."""

        id: str
        results: list[CohereResult]
        meta: dict[str, Any]
        model: str
        usage: dict[str, int]

    class TeiResult(BaseModel):
        index: int
        score: float
        text: str | None = None

    return {"CohereResponse": CohereResponse, "CohereResult": CohereResult, "TeiResult": TeiResult}
