"""``crossrank.CrossEncoder``: sentence-transformers' ``CrossEncoder`` on crossrank's engine.

Switch by changing the import::

    from crossrank import CrossEncoder          # was: from sentence_transformers import CrossEncoder
    model = CrossEncoder("path/to/bundle")      # or a Hugging Face folder: exported on first use, cached
    scores = model.predict([("q", "d1"), ("q", "d2")])
    hits = model.rank("q", docs, top_k=3, return_documents=True)

``predict`` and ``rank`` take sentence-transformers 5.7's arguments, defaults and return types
(pairs as tuples or lists, a single pair, ``activation_fn``, ``apply_softmax``, ``convert_to_numpy``,
``convert_to_tensor``; ``rank``'s list of ``{"corpus_id", "score"[, "text"]}`` best first). Pairs are
truncated ``longest_first``, as there. What has no meaning here (multi-process pools, GPUs,
prompts, a new head's ``num_labels``) raises an error naming the argument. Importing
this module loads neither torch nor sentence-transformers: torch only for tensor outputs or an
activation that is not one of torch's Sigmoid / Identity / Tanh / Softmax.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from crossrank._reranker_setup import progress_bar
from crossrank._validation import PRECISIONS, check_choice, check_int, check_text, split_pairs
from crossrank.bundle import Bundle
from crossrank.integrations.model_folder import ModelFolder, resolve_model
from crossrank.integrations.st_outputs import Activation, as_activation, convert, default_activation, softmax
from crossrank.reranker import Reranker, TruncationWarning

# sentence-transformers' own defaults.
DEFAULT_BATCH_SIZE = 32
BACKENDS = ("torch", "onnx")  # what sentence-transformers would run; crossrank's engine replaces either
# Pairs per engine call on the multi-label path (it paces the progress bar).
_CHUNK_PAIRS = 4096
# Constructor arguments of sentence-transformers that configure what crossrank does not have.
_UNSUPPORTED_INIT = {
    "modules": "a CrossEncoder is built from a bundle or a Hugging Face folder, not from modules",
    "prompts": "prompts are not supported", "default_prompt_name": "prompts are not supported",
    "model_kwargs": "the model is loaded by crossrank's engine, not transformers",
    "automodel_args": "the model is loaded by crossrank's engine, not transformers",
    "processor_kwargs": "the tokenizer is the bundle's; use max_length", "tokenizer_kwargs": "use max_length",
    "tokenizer_args": "use max_length", "config_kwargs": "the config is the exported model's",
    "config_args": "the config is the exported model's", "classifier_dropout": "crossrank does not train",
    "model_card_data": "crossrank does not write model cards",
}


def _check_device(device: object) -> None:
    if device is not None and str(device) != "cpu":
        raise ValueError(f"device must be None or 'cpu', got {device!r}: crossrank runs on the CPU "
                         "(all its cores, in one process)")


def _init_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """KWARGS with sentence-transformers' legacy names mapped; TypeError / ValueError for the rest."""
    for old, new in (("default_activation_function", "activation_fn"), ("cache_dir", "cache_folder")):
        if old in kwargs:
            kwargs.setdefault(new, kwargs.pop(old))
    for name, why in _UNSUPPORTED_INIT.items():
        if kwargs.pop(name, None) is not None:
            raise ValueError(f"{name} is not supported by crossrank.CrossEncoder: {why}")
    return kwargs


def _is_single_pair(inputs: object) -> bool:
    """sentence-transformers' rule: a list or tuple whose first item is not itself a list or tuple
    (a 1-D numpy string array too) is one pair."""
    if isinstance(inputs, (list, tuple)):
        return len(inputs) > 0 and not isinstance(inputs[0], (list, tuple))
    if isinstance(inputs, np.ndarray) and inputs.dtype.kind in ("U", "O"):
        return inputs.size > 0 and inputs.ndim < 2
    return True


def _check_call(prompt_name: object, prompt: object, batch_size: object, device: object, pool: object,
                chunk_size: object, kwargs: dict[str, Any]) -> None:
    """Errors for the predict / rank arguments crossrank does not support, each naming it."""
    if kwargs.pop("num_workers", None) is not None:
        warnings.warn("num_workers has no effect (as in sentence-transformers, which deprecated it)",
                      DeprecationWarning, stacklevel=3)
    if kwargs:
        raise TypeError(f"crossrank.CrossEncoder does not support {', '.join(sorted(kwargs))}")
    if prompt is not None or prompt_name is not None:
        raise ValueError(f"{'prompt' if prompt is not None else 'prompt_name'} is not supported: "
                         "put the text into the query")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    _check_device(device)
    if pool is not None or chunk_size is not None:
        raise ValueError(f"{'pool' if pool is not None else 'chunk_size'} is not supported: crossrank uses "
                         "every core in one process (threads=), no multi-process pool")


class CrossEncoder:
    """sentence-transformers' ``CrossEncoder`` API, scored by crossrank's C++ engine.

    Args:
        model_name_or_path: a crossrank bundle, or a Hugging Face sequence-classification folder or
            Hub id (downloaded by huggingface_hub), exported on first use with ``crossrank export``'s
            defaults and cached by content under ``$CROSSRANK_HOME/exports`` (a line on stderr says so).
        num_labels: the model's number of labels, if given (a different one would need a new,
            untrained head: ValueError).
        max_length: tokens per pair; default: the tokenizer's model_max_length (a Hugging Face folder)
            capped at the bundle's max_length.
        activation_fn: applied to the logits by ``predict``; default as in sentence-transformers (the
            config's ``activation_fn``, else Sigmoid for one label, Identity for more).
        device: None or "cpu".
        cache_folder: huggingface_hub's cache for a Hub id (legacy name: ``cache_dir``).
        revision: the Hub id's branch, tag or commit.
        token: for private Hub models.
        local_files_only: take a Hub id from huggingface_hub's cache only.
        backend: "torch" or "onnx" (either way crossrank's engine runs the bundle).
        trust_remote_code: allow the config's activation_fn to name a class outside torch.
        precision: crossrank's "int8" or "fp32"; default: the bundle's (the export's quality gate decides).
        threads: cores to use (default: every physical core).
        progress: print the export's progress when a Hugging Face folder is exported.
        **kwargs: sentence-transformers' legacy names (``default_activation_function``, ``cache_dir``); others
            that configure what crossrank does not have (``model_kwargs``, ``prompts`` ...)
            raise ValueError naming them.
    """

    def __init__(self, model_name_or_path: str | Path, num_labels: int | None = None,
                 max_length: int | None = None, activation_fn: Callable | str | None = None,
                 device: str | None = None, *, cache_folder: str | None = None, revision: str | None = None,
                 token: bool | str | None = None, local_files_only: bool = False, backend: str = "torch",
                 trust_remote_code: bool = False, precision: str | None = None, threads: int | None = None,
                 progress: bool = True, **kwargs: Any) -> None:
        kwargs = _init_options(kwargs)
        activation_fn = kwargs.pop("activation_fn", activation_fn)
        cache_folder = kwargs.pop("cache_folder", cache_folder)
        if kwargs:
            raise TypeError(f"crossrank.CrossEncoder got unexpected arguments: {', '.join(sorted(kwargs))}")
        _check_device(device)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))} (crossrank's engine runs "
                             f"either), got {backend!r}")
        # The cheap checks come before a first export, which can take minutes.
        chosen = None if activation_fn is None else as_activation(activation_fn)
        check_int(num_labels, "num_labels", minimum=1, allow_none=True)
        if precision is not None:
            check_choice(precision, PRECISIONS, "precision")
        self.model_folder: ModelFolder = resolve_model(
            model_name_or_path, progress=progress, name="model_name_or_path", cache_folder=cache_folder,
            revision=revision, token=token, local_files_only=local_files_only)
        bundle = Bundle.load(self.model_folder.bundle)
        self.reranker = Reranker(bundle, precision=precision, max_length=self._max_length(max_length, bundle),
                                 truncation="longest_first", activation="none", threads=threads)
        self.num_labels = self.reranker.bundle.num_labels
        if num_labels is not None and num_labels != self.num_labels:
            raise ValueError(f"num_labels={num_labels}, but the model has {self.num_labels} labels; crossrank "
                             "scores with the trained head (drop num_labels, or export a model with that head)")
        self.activation_fn: Activation = chosen or default_activation(
            self.num_labels, self.model_folder.config, self.reranker.bundle.activation, trust_remote_code)
        self.backend = backend
        self.device = "cpu"

    def _max_length(self, max_length: object, bundle: Bundle) -> object:
        """MAX_LENGTH, or by default the source tokenizer's model_max_length within the bundle's."""
        source_max = self.model_folder.model_max_length
        if max_length is None and source_max is not None:
            return min(source_max, bundle.max_length)
        return max_length  # None: the bundle's; the Reranker checks the rest, naming max_length

    @property
    def max_length(self) -> int:
        """Tokens per pair (special tokens included); longer pairs are truncated longest_first."""
        return self.reranker.max_length

    max_seq_length = max_length

    def __repr__(self) -> str:
        return (f"CrossEncoder({str(self.reranker.bundle.path)!r}, num_labels={self.num_labels}, "
                f"max_length={self.max_length}, precision={self.reranker.precision!r})")

    def predict(self, inputs: Any = None, prompt_name: str | None = None, prompt: str | None = None,
                batch_size: int = DEFAULT_BATCH_SIZE, show_progress_bar: bool | None = None,
                activation_fn: Callable | str | None = None, apply_softmax: bool | None = False,
                convert_to_numpy: bool = True, convert_to_tensor: bool = False, device: str | None = None,
                pool: Any = None, chunk_size: int | None = None, **kwargs: Any) -> Any:
        """Scores of (query, document) pairs, as sentence-transformers' ``CrossEncoder.predict``.

        Args:
            inputs: pairs (tuples or lists of two strings), or one pair. Legacy name: ``sentences``.
            prompt_name: not supported (ValueError).
            prompt: not supported (ValueError).
            batch_size: checked as there (a positive int), then left to crossrank's planner, which
                batches by tokens (each pair alone by default: measured faster on CPUs).
            show_progress_bar: a progress bar over pairs; default: from 10,000 pairs.
            activation_fn: overrides the model's for this call. Legacy name: ``activation_fct``.
            apply_softmax: softmax over the labels after the activation.
            convert_to_numpy: a numpy array (default); False: a list of torch tensors.
            convert_to_tensor: one torch tensor (wins over convert_to_numpy).
            device: None or "cpu".
            pool: not supported (ValueError).
            chunk_size: not supported (ValueError).
            **kwargs: ``sentences`` and ``activation_fct`` (old names), ``num_workers`` (no effect, as
                there); anything else raises TypeError.

        Returns:
            ``[pairs]`` scores for one-label models, ``[pairs, labels]`` for more; a single pair gives
            its own row.
        """
        inputs = kwargs.pop("sentences", inputs)
        activation_fn = kwargs.pop("activation_fct", activation_fn)
        _check_call(prompt_name, prompt, batch_size, device, pool, chunk_size, kwargs)
        activation = self.activation_fn if activation_fn is None else as_activation(activation_fn)
        single = _is_single_pair(inputs)
        if single:
            inputs = [inputs.tolist() if isinstance(inputs, np.ndarray) else inputs]
        elif isinstance(inputs, np.ndarray):
            inputs = inputs.tolist()
        scores = activation(self.logits(inputs, show_progress_bar))
        if apply_softmax:  # over the labels: a one-label model's scores all become 1, as there
            scores = softmax(scores, axis=1)
        if self.num_labels == 1:
            scores = scores[:, 0]
        return convert(np.ascontiguousarray(scores), single=single, convert_to_numpy=convert_to_numpy,
                       convert_to_tensor=convert_to_tensor)

    def rank(self, query: str, documents: list[str], top_k: int | None = None, return_documents: bool = False,
             prompt_name: str | None = None, prompt: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
             show_progress_bar: bool | None = None, activation_fn: Callable | str | None = None,
             apply_softmax: bool | None = False, convert_to_numpy: bool = True, convert_to_tensor: bool = False,
             device: str | None = None, pool: Any = None, chunk_size: int | None = None,
             **kwargs: Any) -> list[dict[str, Any]]:
        """DOCUMENTS ranked against QUERY, as sentence-transformers' ``CrossEncoder.rank``.

        Returns:
            ``[{"corpus_id": index, "score": score[, "text": document]}]``, best first (ties keep
            input order), at most TOP_K of them (None: all; 0: none). The scores are ``predict``'s
            items with the same arguments.

        Raises:
            ValueError: the model has more than one label (as there), or TOP_K is negative (there,
                a negative top_k silently drops the last documents).
            TypeError: DOCUMENTS is one string (there, its characters would be ranked).
        """
        if self.num_labels != 1:
            raise ValueError("CrossEncoder.rank() only works for models with num_labels=1. "
                             "Consider using CrossEncoder.predict() with input pairs instead.")
        check_text(query, "query")
        if isinstance(documents, (str, bytes)):
            raise TypeError("documents must be a list of str, not a single string")
        top_k = check_int(top_k, "top_k", minimum=0, allow_none=True)
        documents = list(documents)
        scores = self.predict([[query, doc] for doc in documents], prompt_name, prompt, batch_size,
                              show_progress_bar, activation_fn, apply_softmax, convert_to_numpy,
                              convert_to_tensor, device, pool, chunk_size, **kwargs)
        results = [{"corpus_id": i, "score": score} for i, score in enumerate(scores)]
        if return_documents:
            for result in results:
                result["text"] = documents[result["corpus_id"]]
        return sorted(results, key=lambda result: result["score"], reverse=True)[:top_k]

    def start_multi_process_pool(self, *args: Any, **kwargs: Any) -> Any:
        """Not supported: crossrank scores on every core in one process (``threads=``)."""
        raise NotImplementedError("start_multi_process_pool is not supported: crossrank scores on every core in "
                                  "one process (CrossEncoder(..., threads=N)); call predict without pool")

    def logits(self, pairs: list[Any], show_progress_bar: bool | None = None) -> np.ndarray:
        """Raw logits ``[pairs, labels]`` (float32) of (query, document) pairs, in input order.

        Pairs longer than max_length are truncated longest_first and reported (TruncationWarning).
        """
        if self.num_labels == 1:
            return self.reranker.score_pairs(pairs, show_progress=show_progress_bar)[:, None]
        queries, docs = split_pairs(pairs)
        tokenizer = self.reranker.tokenizer
        query_ids: dict[str, list[int]] = {}  # a query repeated over its documents is encoded once

        def encode_query(query: str) -> list[int]:
            if query not in query_ids:
                query_ids[query] = tokenizer.encode(query)
            return query_ids[query]

        logits = np.empty((len(docs), self.num_labels), dtype=np.float32)
        truncated = 0
        progress = progress_bar(len(docs), show_progress_bar)
        for start in range(0, len(docs), _CHUNK_PAIRS):
            end = min(start + _CHUNK_PAIRS, len(docs))
            chunk_queries = [encode_query(query) for query in queries[start:end]]
            chunk_docs = [tokenizer.encode(doc) for doc in docs[start:end]]
            logits[start:end], stats = self.reranker.token_id_logits(chunk_queries, chunk_docs)
            truncated += int(stats.get("truncated_pairs", 0))
            if progress is not None:
                progress.update(end - start)
        if progress is not None:
            progress.close()
        if truncated:
            warnings.warn(f"{truncated} of {len(docs)} pairs were longer than max_length={self.max_length} tokens "
                          "and were truncated (longest_first)", TruncationWarning, stacklevel=3)
        return logits

