"""The model families ``crossrank export`` takes, what each needs, and the error for the rest.

One table (:data:`FAMILIES`) says, per family: the transformers model types it covers, ONNX
Runtime's optimizer type for its fusions, whether its learned positions carry the fairseq offset,
its tokenizer, and what keeps crossrank's kernels off its graph where something does. A bundle
records its family in ``crossrank.json`` (``family``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DECODER_MODEL_TYPES", "FAMILIES", "Family", "family_of", "unsupported_model_error"]


@dataclass(frozen=True)
class Family:
    """A family of encoder cross-encoders that export the same way."""

    name: str  # the manifest's "family"
    model_types: tuple[str, ...]  # transformers' config.model_type values
    example: str  # a model of the family, for messages and the README
    optimizer: str  # onnxruntime.transformers.optimizer model_type of its fusions
    tokenizer: str  # the tokenizer.json model it ships with
    position_offset: bool = False  # learned positions start at padding_idx + 1 (fairseq)
    tested: bool = True  # exported and checked against PyTorch by the test suite
    # Why crossrank's kernels cannot take this family's attention / GELU / residual LayerNorm,
    # whatever its shape (None: they can where the shapes fit).
    kernel_note: str | None = None


FAMILIES: tuple[Family, ...] = (
    Family("bert", ("bert",), "cross-encoder/ms-marco-MiniLM-L-6-v2", "bert", "WordPiece"),
    Family("xlm-roberta", ("xlm-roberta",), "BAAI/bge-reranker-base", "bert", "Unigram",
           position_offset=True),
    Family("electra", ("electra",), "cross-encoder/ms-marco-electra-base", "bert", "WordPiece"),
    # ONNX Runtime 1.32's optimizer has no ModernBERT type; its BERT fusions find ModernBERT's GELUs
    # (in GeGLU) and nothing else, and the export checks the result against PyTorch.
    Family("modernbert", ("modernbert",), "Alibaba-NLP/gte-reranker-modernbert-base", "bert", "BPE (byte-level)",
           kernel_note=(
               "ModernBERT's attention (rotary position embeddings, sliding-window local attention in two "
               "of three layers) is no pattern ONNX Runtime's optimizer fuses into an Attention node, so it "
               "runs as ONNX Runtime's MatMul / Softmax operators, not on crossrank's attention kernel; its "
               "LayerNorms are pre-norm (the residual sum also feeds the next residual Add), which the "
               "Add + LayerNorm kernel does not cover; only GELU (in GeGLU) runs on crossrank's kernel")),
    Family("roberta", ("roberta", "camembert"), "a RoBERTa / CamemBERT cross-encoder", "bert",
           "BPE (byte-level) / Unigram", position_offset=True, tested=False),
    Family("distilbert", ("distilbert",), "a DistilBERT cross-encoder", "bert", "WordPiece", tested=False),
)

# Decoder (causal language model) rerankers: their score is a token's logit after a prompt, not a
# classification head over an encoder; crossrank's engine runs encoders only.
DECODER_MODEL_TYPES = frozenset({"qwen2", "qwen3", "qwen3_moe", "llama", "mistral", "gemma", "gemma2", "gemma3",
                                 "gemma3_text", "phi", "phi3", "gpt2", "gpt_neox", "minicpm", "olmo", "olmo2"})


def family_of(model_type: str | None) -> Family | None:
    """The family covering MODEL_TYPE (transformers' config.model_type), or None."""
    return next((f for f in FAMILIES if model_type in f.model_types), None)


def unsupported_model_error(src: str, model_type: str | None, architectures: list[str]) -> ValueError:
    """The error for a model no family covers; decoder rerankers (Qwen3-Reranker, ...) get their own."""
    supported = ", ".join(f"{f.name} ({f.example})" for f in FAMILIES if f.tested)
    archs = ", ".join(architectures) or "none named"
    if model_type in DECODER_MODEL_TYPES or any(a.endswith("ForCausalLM") for a in architectures):
        return ValueError(
            f"{src}: model type {model_type!r} (architecture {archs}) is a decoder reranker (such as "
            "Qwen3-Reranker or bge-reranker-v2-gemma), which scores with a language model's token logits; "
            f"crossrank exports encoder cross-encoders only: {supported}")
    return ValueError(
        f"{src}: model type {model_type!r} (architecture {archs}) is not supported; crossrank exports "
        f"encoder cross-encoders with a sequence-classification head: {supported}")
