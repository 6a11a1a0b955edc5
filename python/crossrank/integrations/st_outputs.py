"""sentence-transformers' ``activation_fn`` and output types, computed without torch unless asked.

``CrossEncoder.predict`` applies ``activation_fn`` to the logits ``[pairs, labels]``, then the
softmax of ``apply_softmax``, then drops the label axis of one-label models, and returns a numpy
array, one tensor, or a list of tensors. Here the activations sentence-transformers uses
(``torch.nn.Sigmoid``, ``Identity``, ``Tanh``, ``Softmax``, recognised by class without importing
torch) run in numpy; any other callable is called on a torch tensor, as sentence-transformers
does, so only then (and for tensor outputs) is torch imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from crossrank._validation import ACTIVATIONS

# torch.nn classes sentence-transformers uses as activation_fn, by class name: what they compute here.
TORCH_ACTIVATIONS = {"Sigmoid": "sigmoid", "Identity": "none", "Tanh": "tanh", "Softmax": "softmax"}
# The activation names accepted as strings: crossrank's (crossrank._validation.ACTIVATIONS).
_NUMPY_FUNCTIONS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "sigmoid": lambda x, axis: 0.5 * (1.0 + np.tanh(0.5 * x)),  # = 1 / (1 + e^-x), without overflow
    "none": lambda x, axis: x,
    "tanh": lambda x, axis: np.tanh(x),
    "softmax": lambda x, axis: softmax(x, axis),
}


def softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """Softmax of X along AXIS, shifted by the maximum so that it never overflows."""
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


@dataclass(frozen=True)
class Activation:
    """An ``activation_fn``, ready to apply to logits ``[pairs, labels]`` (float32).

    Attributes:
        name: "sigmoid", "none", "tanh", "softmax", or "callable" (FUNCTION, called on a torch tensor).
        axis: the softmax's axis (torch.nn.Softmax's dim; None there means 1 on 2-D scores).
        function: the user's callable, for "callable".
    """

    name: str
    axis: int = 1
    function: Callable[[Any], Any] | None = None

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        if self.function is None:
            return np.asarray(_NUMPY_FUNCTIONS[self.name](scores, self.axis), dtype=np.float32)
        import torch

        out = self.function(torch.from_numpy(np.ascontiguousarray(scores)))
        if isinstance(out, torch.Tensor):
            return out.detach().cpu().float().numpy()
        return np.asarray(out, dtype=np.float32)


def as_activation(value: object, what: str = "activation_fn") -> Activation:
    """VALUE (a torch activation module, any callable, or one of ACTIVATIONS by name) as an Activation.

    Raises:
        ValueError: an unknown name.
        TypeError: neither a name nor a callable.
    """
    if isinstance(value, str):
        if value not in ACTIVATIONS:
            raise ValueError(f"{what} must be a callable (e.g. torch.nn.Sigmoid()) or one of "
                             f"{', '.join(map(repr, ACTIVATIONS))}, got {value!r}")
        return Activation(value)
    if not callable(value):
        raise TypeError(f"{what} must be a callable such as torch.nn.Sigmoid() (or 'sigmoid', 'softmax', "
                        f"'none'), got {type(value).__name__}")
    kind = type(value)
    if kind.__module__.startswith("torch.nn") and kind.__name__ in TORCH_ACTIVATIONS:
        dim = getattr(value, "dim", None)
        return Activation(TORCH_ACTIVATIONS[kind.__name__], 1 if dim is None else int(dim))
    if importlib.util.find_spec("torch") is None:
        raise ImportError(f"{what}={value!r} is called on a torch tensor, as sentence-transformers does, "
                          "but torch is not installed; pass torch.nn.Sigmoid(), Identity(), Tanh(), Softmax() "
                          "or 'sigmoid', 'softmax', 'none' (computed without torch)")
    return Activation("callable", function=value)


def from_config_path(path: str, trust_remote_code: bool) -> Activation | None:
    """The activation a model's config names by dotted path (``torch.nn.modules.activation.Sigmoid``),
    resolved as sentence-transformers does: torch classes, others only with TRUST_REMOTE_CODE;
    None (with a warning, as there) for an untrusted path."""
    module, _, name = path.rpartition(".")
    if module.startswith("torch.nn") and name in TORCH_ACTIVATIONS:
        return Activation(TORCH_ACTIVATIONS[name])
    if not (trust_remote_code or path.startswith("torch.")):
        warnings.warn(f"activation function path {path!r} of the model's config is not trusted: using the "
                      "default activation (pass trust_remote_code=True to load it)", UserWarning, stacklevel=4)
        return None
    return as_activation(getattr(importlib.import_module(module), name)(), "the config's activation_fn")


def default_activation(num_labels: int, config: dict[str, Any] | None, bundle_activation: str,
                       trust_remote_code: bool) -> Activation:
    """sentence-transformers' default ``activation_fn`` for a model.

    From a Hugging Face folder's config (CONFIG): its ``sentence_transformers.activation_fn`` (or the
    older ``sbert_ce_default_activation_function``), else Sigmoid for one label and Identity for more.
    For a bundle (CONFIG None): one label takes the bundle's activation (the export read the same
    config entry); more labels get Identity, sentence-transformers' default, since a bundle's
    "softmax" for two labels is crossrank's own choice.
    """
    if config is not None:
        path = (config.get("sentence_transformers") or {}).get("activation_fn") \
            or config.get("sbert_ce_default_activation_function")
        resolved = from_config_path(path, trust_remote_code) if isinstance(path, str) else None
        if resolved is not None:
            return resolved
        return Activation("sigmoid" if num_labels == 1 else "none")
    return Activation(bundle_activation if num_labels == 1 else "none")


def convert(scores: np.ndarray, *, single: bool, convert_to_numpy: bool, convert_to_tensor: bool) -> Any:
    """SCORES ``[pairs]`` or ``[pairs, labels]`` as sentence-transformers returns them.

    One tensor (CONVERT_TO_TENSOR, which wins), a numpy array (CONVERT_TO_NUMPY), else a list of one
    tensor per pair; an empty input gives an empty float64 array / float32 tensor, a single pair its
    own row (a numpy scalar for one-label models).
    """
    if convert_to_tensor or not convert_to_numpy:
        import torch

        tensor = torch.from_numpy(scores) if len(scores) else torch.tensor([])
        out: Any = tensor if convert_to_tensor else list(tensor)
    else:
        out = scores if len(scores) else np.asarray([])
    return out[0] if single else out
