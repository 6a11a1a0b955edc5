"""Scoring a bundle's graph without crossrank's engine, for families whose tokenizer crossrank's C++
core does not read yet.

The fidelity report and the quality gate score pools through the engine
(:func:`crossrank.export.fidelity.make_scorer`). Where :class:`crossrank.tokenizer.Tokenizer`
refuses the bundle's tokenizer.json as unsupported (a Unigram or byte-level BPE tokenizer before
those algorithms are in the core), they score through this module instead: Hugging Face
``tokenizers`` on the same file and ONNX Runtime's Python API, one pair per run as the engine runs
them (so dynamic int8's activation scales are a pair's own, as in the engine). The report names
the scorer it used. tokenizers and onnxruntime are imported inside the functions.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from crossrank.tokenizer import Tokenizer

__all__ = ["OnnxRuntimeScorer", "unsupported_tokenizer"]


def unsupported_tokenizer(tokenizer_file: str | os.PathLike[str]) -> str | None:
    """Why crossrank's engine cannot read TOKENIZER_FILE (its unsupported-tokenizer error, from
    "unsupported tokenizer" on, without the file's path), or None when it can. Any other error (a
    broken file) is raised."""
    try:
        Tokenizer.from_file(tokenizer_file)
    except ValueError as error:
        message = str(error)
        if "unsupported tokenizer" in message:
            return message[message.index("unsupported tokenizer"):]
        raise
    return None


class OnnxRuntimeScorer:
    """``pairs -> raw logits of the scored label`` with Hugging Face tokenizers and ONNX Runtime.

    Pairs are truncated ``longest_first`` to MAX_LENGTH (tokenizers' ``only_second`` fails on a
    query longer than the budget; both precisions see the same ids, which is what agreement needs).
    """

    engine = ("onnxruntime Python API with Hugging Face tokenizers, one pair per run (crossrank's "
              "tokenizer does not read this tokenizer.json yet)")

    def __init__(self, model_file: str | os.PathLike[str], tokenizer_file: str | os.PathLike[str], *,
                 max_length: int, score_index: int, softmax: bool, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer as HFTokenizer

        self.tokenizer = HFTokenizer.from_file(os.fspath(tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        self.session = ort.InferenceSession(os.fspath(Path(model_file)), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.score_index = score_index
        self.softmax = softmax

    def _logits(self, encoding) -> np.ndarray:
        feeds = {"input_ids": encoding.ids, "attention_mask": encoding.attention_mask,
                 "token_type_ids": encoding.type_ids}
        feeds = {k: np.asarray([v], dtype=np.int64) for k, v in feeds.items() if k in self.inputs}
        return self.session.run(["logits"], feeds)[0][0].astype(np.float64)

    def __call__(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        out = np.empty(len(pairs), dtype=np.float32)
        for i, encoding in enumerate(self.tokenizer.encode_batch(list(pairs))):
            logits = self._logits(encoding)
            if self.softmax:
                logits = np.exp(logits - logits.max())
                logits /= logits.sum()
            out[i] = logits[self.score_index]
        return out
