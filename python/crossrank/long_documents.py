"""Long documents: the options that cut a document into windows, and the windows' scores aggregated
back into one score per document (FirstP, MaxP, MeanP).

The engine (``csrc/runtime/engine_windows.cc``) tokenizes each document once, only as far as the
options need, cuts its ids into windows and scores every window of every document in one call; this
module checks the options, aggregates the windows' scores in input order and words the one warning
of a call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossrank._validation import INT32_MAX, LONG_DOCUMENTS, check_choice, check_int

# Windows per document unless max_windows says otherwise: a 16-window document at the default
# window (what fits after the query, ~500 tokens) reaches ~6,000 tokens, 16x one pair's cost.
DEFAULT_MAX_WINDOWS = 16


@dataclass(frozen=True)
class LongDocumentOptions:
    """Checked options of one call (see :meth:`crossrank.reranker.Reranker.score_pairs`).

    ``window`` None: what fits after each pair's query; ``stride`` None: three quarters of the
    window; ``max_tokens_per_doc`` None: no cap.
    """

    mode: str = "truncate"
    window: int | None = None
    stride: int | None = None
    max_windows: int = DEFAULT_MAX_WINDOWS
    max_tokens_per_doc: int | None = None

    @property
    def plain(self) -> bool:
        """True when the call is today's truncation with nothing to cut first (the pair path)."""
        return self.mode == "truncate" and self.max_tokens_per_doc is None

    def engine_arguments(self) -> dict[str, object]:
        """The keywords of ``_native.Engine.score_windows`` (0 means its default)."""
        return {"windows": self.mode != "truncate", "window": self.window or 0, "stride": self.stride or 0,
                "max_windows": 1 if self.mode == "firstp" else self.max_windows,
                "max_tokens_per_doc": self.max_tokens_per_doc or 0}


def check_long_options(long_documents: object, window: object, stride: object, max_windows: object,
                       max_tokens_per_doc: object, *, max_length: int, special_tokens: int = 3) -> LongDocumentOptions:
    """The options, checked; ValueError names the argument and what it accepts.

    Args:
        long_documents: one of LONG_DOCUMENTS.
        window: document tokens per window, 1 to max_length - special_tokens (the model's limit less
            its pair template's special tokens), or None.
        stride: tokens from one window's start to the next, 1 to the window, or None.
        max_windows: windows per document at most (None: DEFAULT_MAX_WINDOWS); not with "firstp",
            which scores the first window only.
        max_tokens_per_doc: cut each document to this many tokens before windowing, or None.
        max_length: the Reranker's max_length.
        special_tokens: special tokens in the model's pair template (``Tokenizer.special_count``:
            3 for BERT's [CLS] A [SEP] B [SEP], 4 for XLM-R's <s> A </s></s> B </s>).

    Raises:
        ValueError: for a value out of range, or a window option given with "truncate".
    """
    mode = check_choice(long_documents, LONG_DOCUMENTS, "long_documents")
    limit = max_length - special_tokens
    window = check_int(window, "window", minimum=1, maximum=limit, allow_none=True,
                       maximum_name=f"max_length - {special_tokens} = {limit} (the model's limit less its "
                                    f"{special_tokens} special tokens)")
    stride = check_int(stride, "stride", minimum=1, maximum=window or limit, allow_none=True,
                       maximum_name=f"the window ({window or limit}), so that the windows cover the document")
    max_windows = check_int(max_windows, "max_windows", minimum=1, maximum=INT32_MAX, allow_none=True)
    max_tokens = check_int(max_tokens_per_doc, "max_tokens_per_doc", minimum=1, maximum=INT32_MAX, allow_none=True)
    given = [name for name, value in (("window", window), ("stride", stride), ("max_windows", max_windows))
             if value is not None]
    if mode == "truncate" and given:
        raise ValueError(f"{', '.join(given)} cut documents into windows: pass long_documents='maxp' (or "
                         "'firstp', 'meanp') with them, or leave them out for truncation")
    if mode == "firstp" and max_windows is not None:
        raise ValueError("max_windows does not apply to long_documents='firstp', which scores the first window "
                         "only; leave it out, or use 'maxp' / 'meanp'")
    return LongDocumentOptions(mode, window, stride, DEFAULT_MAX_WINDOWS if max_windows is None else max_windows,
                               max_tokens)


def aggregate(scores: np.ndarray, offsets: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per document: its score from its windows' scores, and the window that scored best.

    Args:
        scores: float32 score of every window, document by document.
        offsets: int64 [documents + 1]; document i's windows are scores[offsets[i]:offsets[i + 1]]
            (at least one each).
        mode: "firstp", "maxp", "meanp" (or "truncate": one window per document).

    Returns:
        (float32 scores [documents], the best window's index within its document [documents]).
    """
    starts = offsets[:-1]
    if len(starts) == 0:
        return np.empty(0, dtype=np.float32), np.empty(0, dtype=np.int64)
    counts = np.diff(offsets)
    best = np.maximum.reduceat(scores, starts)
    # The first window reaching the best score (ties: the earliest).
    document = np.repeat(np.arange(len(starts)), counts)
    is_best = scores == best[document]
    first_best = np.minimum.reduceat(np.where(is_best, np.arange(len(scores)), len(scores)), starts) - starts
    if mode == "meanp":
        mean = np.add.reduceat(scores.astype(np.float64), starts) / counts
        return mean.astype(np.float32), first_best
    if mode in ("firstp", "truncate"):
        return np.ascontiguousarray(scores[starts], dtype=np.float32), np.zeros(len(starts), dtype=np.int64)
    return np.ascontiguousarray(best, dtype=np.float32), first_best


def warning_line(stats: dict[str, int], documents: int, options: LongDocumentOptions, max_length: int) -> str | None:
    """The one TruncationWarning line of a call, or None when every document was scored whole."""
    if not stats["truncated_docs"]:
        return None
    reasons = []
    if stats["capped_docs"]:
        reasons.append(f"{stats['capped_docs']} cut at max_tokens_per_doc={options.max_tokens_per_doc}")
    if stats["max_windows_docs"]:
        limit = "the first window (firstp)" if options.mode == "firstp" else f"max_windows={options.max_windows}"
        reasons.append(f"{stats['max_windows_docs']} longer than {limit}")
    if stats["truncated_pairs"]:
        reasons.append(f"{stats['truncated_pairs']} pairs cut to max_length={max_length}")
    return (f"{stats['truncated_docs']} of {documents} documents were not scored in full "
            f"(long_documents={options.mode!r}: {'; '.join(reasons)}); see Reranker.last_stats")
