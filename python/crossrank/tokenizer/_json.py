"""Reading tokenizer.json fields: what every algorithm's loader shares.

Errors are ValueErrors that name the field and what was found; :meth:`Tokenizer.from_dict` prefixes
them with the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from crossrank._validation import INT32_MAX, check_int


@dataclass(frozen=True)
class NativeSpec:
    """What a loader builds from a tokenizer.json.

    Attributes:
        native: the ``crossrank._native.PairTokenizer`` subclass instance.
        pad_id: id of the padding token.
        max_token_id: the largest id the tokenizer can produce.
        algorithm: tokenizer.json's ``model.type`` ("WordPiece", "Unigram", "BPE").
    """

    native: Any
    pad_id: int
    max_token_id: int
    algorithm: str


def unsupported(where: str, found: Any, supported: str) -> ValueError:
    """The error for a component crossrank does not read: WHERE holds FOUND; SUPPORTED says what would do."""
    shown = found if isinstance(found, str) else json.dumps(found)[:200]
    return ValueError(f"unsupported tokenizer: {where} is {shown}; {supported}")


def component_type(config: dict[str, Any], key: str, supported: str) -> str | None:
    """The ``type`` of CONFIG[KEY] (None when absent or null)."""
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise unsupported(key, value, supported)
    return value.get("type")


def token_id(value: object, where: str) -> int:
    """VALUE as a token id (an int from 0 to INT32_MAX, what the engine holds), naming WHERE if not."""
    return check_int(value, where, minimum=0, maximum=INT32_MAX)


def added_tokens(entries: list[Any], vocab_map: dict[str, int]) -> list[dict[str, Any]]:
    """tokenizer.json's added_tokens with the ids ``tokenizers`` actually gives them.

    ``tokenizers`` does not trust the ids written in the file: loading re-adds every token
    (AddedVocabulary::add_tokens), so a token already in the model vocab gets its vocab id, a
    repeated content is ignored, and a new one gets the next id after the vocab / last added id.

    Args:
        entries: the file's ``added_tokens`` list.
        vocab_map: the model's vocabulary, token -> id.
    """
    ids: dict[str, int] = {}
    out = []
    for index, token in enumerate(entries):
        if not isinstance(token, dict) or not isinstance(token.get("content"), str):
            raise ValueError(f"added_tokens[{index}] needs a 'content' string")
        content = token["content"]
        if not content or content in ids:
            continue
        if content in vocab_map:
            new_id = vocab_map[content]
        else:
            top = max(ids.values(), default=None)
            new_id = len(vocab_map) if top is None or top < len(vocab_map) else top + 1
        ids[content] = new_id
        flags = {key: bool(token.get(key, False)) for key in ("lstrip", "rstrip", "single_word", "normalized")}
        out.append({"content": content, "id": new_id, **flags})
    return out


def pad_id(config: dict[str, Any], added: list[dict[str, Any]], vocab_map: dict[str, int],
           pad_tokens: tuple[str, ...] = ("[PAD]", "<pad>")) -> int:
    """The padding section's pad_id, else the id of the first of PAD_TOKENS found (added tokens
    first), else 0."""
    padding = config.get("padding")
    if isinstance(padding, dict) and padding.get("pad_id") is not None:
        return token_id(padding["pad_id"], "padding.pad_id")
    by_content = {t["content"]: t["id"] for t in added}
    for token in pad_tokens:
        if token in by_content:
            return int(by_content[token])
        if token in vocab_map:
            return int(vocab_map[token])
    return 0


def max_token_id(vocab_size: int, pad: int, template: dict[str, Any], added: list[dict[str, Any]]) -> int:
    """The largest id a tokenizer with this vocabulary, padding, template and added tokens produces."""
    specials = [*template["prefix"], *template["middle"], *template["suffix"]]
    return max(vocab_size - 1, pad, *specials, *(t["id"] for t in added))
