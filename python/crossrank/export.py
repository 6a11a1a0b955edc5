"""Write crossrank bundles from Hugging Face sequence-classification models.

A bundle is a folder the engine reads::

    model.onnx        fp32 graph, fused by ONNX Runtime's transformer optimizer
    model.int8.onnx   dynamic int8 quantization of the fused graph (per-channel, U8S8; some
                      operators left in fp32 when the quality gate chose mixed precision)
    tokenizer.json    the model's tokenizer (truncation / padding settings cleared)
    crossrank.json    manifest: labels, activation, max_length, provenance, measurements
    report.json       fidelity report: int8 vs fp32 agreement of every int8 variant tried, the
                      quality gate's decision (crossrank.fidelity, crossrank.quality_gate)

The export path needs the ``[export]`` extra (torch, transformers, optimum-onnx); they are
imported lazily inside the functions here, so ``import crossrank`` never imports torch.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "EXPORT_INSTALL_HINT",
    "FORMAT_VERSION",
    "FP32_FILE",
    "INT8_FILE",
    "MANIFEST_FILE",
    "REPORT_FILE",
    "TOKENIZER_FILE",
    "add_export_arguments",
    "export_bundle",
    "export_kwargs",
]

log = logging.getLogger("crossrank.export")

FORMAT_VERSION = 1
MANIFEST_FILE = "crossrank.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
REPORT_FILE = "report.json"
# Graphs with the attention core on crossrank's own kernel (crossrank.engine_graph).
ENGINE_FILES = {"fp32": "model.engine.onnx", "int8": "model.int8.engine.onnx"}

EXPORT_INSTALL_HINT = (
    "pip install 'crossrank[export]'  (on a CPU-only x86 machine: "
    "pip install 'crossrank[export]' torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu)"
)

# Encoder families whose graphs ONNX Runtime's "bert" optimizer knows how to fuse.
# Only "bert" is exercised by the test-suite; the others go through the same code path.
_OPTIMIZER_MODEL_TYPES = {
    "bert": "bert",
    "roberta": "bert",
    "xlm-roberta": "bert",
    "camembert": "bert",
    "electra": "bert",
    "distilbert": "bert",
}
# Learned absolute positions offset by padding_idx + 1 (fairseq convention).
_POSITION_OFFSET_MODEL_TYPES = {"roberta", "xlm-roberta", "camembert"}

# Fidelity threshold: the fused fp32 graph must reproduce PyTorch's logits to this much, or
# the export is refused (a broken bundle is worse than none). Typical: ~1e-6.
_FP32_FAIL_THRESHOLD = 1e-3

# Pairs for the built-in fp32/int8 check: varied lengths, casing, punctuation, non-ASCII,
# an empty document, and one long enough to be truncated at small max_length.
VERIFICATION_PAIRS: tuple[tuple[str, str], ...] = (
    ("what is the capital of france", "Paris is the capital and most populous city of France."),
    ("what is the capital of france", "The Eiffel Tower was completed in 1889."),
    ("how do vaccines work?", ("Vaccines train the immune system to recognise a pathogen "
     "by exposing it to a harmless piece or weakened form of it.")),
    ("Python GIL", ("The global interpreter lock (GIL) is a mutex that protects access to "
     "Python objects, preventing multiple threads from executing Python bytecodes at once.")),
    ("café crème recipe", ("Crème brûlée — a rich custard base topped with caramelised sugar; "
     "naïve cooks über-torch it. 日本語のテキストも少し。")),
    ("empty document", ""),
    ("", "A document scored against an empty query."),
    ("long document", " ".join(["The quick brown fox jumps over the lazy dog."] * 80)),
)


# --------------------------------------------------------------------------------------------
# small helpers


class _Progress:
    """Times the steps and prints '[i/n] label … 4.2 s' lines."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.index = 0
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, key: str, label: str):
        self.index += 1
        t0 = time.perf_counter()
        status = "failed after "
        try:
            yield
            status = ""
        finally:
            dt = time.perf_counter() - t0
            self.timings[key] = round(dt, 3)
            line = f"[{self.index}/{self.total}] {label} … {status}{dt:.1f} s"
            log.info(line)
            if self.enabled:
                print(line, file=sys.stderr, flush=True)


def _require_export_deps() -> None:
    missing = []
    for name in ("torch", "transformers", "optimum.exporters.onnx", "onnx", "onnxruntime"):
        try:
            __import__(name)
        except ImportError as e:  # pragma: no cover - depends on the environment
            missing.append(f"{name} ({e})")
    if missing:
        raise ImportError(
            "exporting a crossrank bundle needs the export extra; missing: "
            + ", ".join(missing)
            + ". Install it with: "
            + EXPORT_INSTALL_HINT
        )


def _looks_like_path(s: str) -> bool:
    """True when MODEL was meant as a local path rather than a Hub id ('name' or 'org/name')."""
    return (
        os.path.isabs(s)
        or s.startswith(("~", "."))
        or "\\" in s
        or s.count("/") > 1
        or s.endswith("/")
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _int8_cpu() -> tuple[bool | None, str]:
    """(has VNNI, description) of this CPU. On x86, U8S8 products can saturate on AVX2 /
    AVX-512 without VNNI, so weights then use reduce_range; None where the question does not
    arise (not x86)."""
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64", "i386", "i686"):
        return None, machine or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    vnni = sorted(flags & {"avx512_vnni", "avx_vnni"})
                    if vnni:
                        return True, f"{machine} with {', '.join(vnni)}"
                    simd = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "sse"
                    return False, f"{machine} with {simd}, no VNNI"
    except OSError:
        pass
    return False, f"{machine}, VNNI unknown (assumed absent)"


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for dist in ("crossrank", "torch", "transformers", "optimum", "optimum-onnx", "onnxruntime",
                 "onnx", "tokenizers"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


# --------------------------------------------------------------------------------------------
# validation


def _resolve_source(model: str | Path) -> tuple[str, bool]:
    """Returns (name_or_path, is_local). Raises FileNotFoundError for a missing local folder."""
    s = os.fspath(model)
    p = Path(s).expanduser()
    if p.exists():
        if not p.is_dir():
            raise NotADirectoryError(f"model path {p} is a file; expected a Hugging Face model folder")
        if not (p / "config.json").is_file():
            raise FileNotFoundError(
                f"{p} has no config.json: expected a Hugging Face model folder "
                "(config.json, model.safetensors or pytorch_model.bin, tokenizer files)"
            )
        return str(p.resolve()), True
    if isinstance(model, Path) or _looks_like_path(s):
        raise FileNotFoundError(f"model folder not found: {p}")
    return s, False


def _load_config(src: str, is_local: bool):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(src, local_files_only=is_local)
    except OSError as e:
        if is_local:
            raise
        raise OSError(
            f"could not load {src!r} from the Hugging Face Hub (is the machine offline? "
            f"pass a local model folder instead): {e}"
        ) from e


def _raw_config_dict(src: str, is_local: bool) -> dict[str, Any]:
    if is_local:
        with open(Path(src) / "config.json", encoding="utf-8") as f:
            return json.load(f)
    return {}


def _check_classification(config, raw: dict[str, Any], src: str) -> None:
    model_type = getattr(config, "model_type", None)
    archs = list(getattr(config, "architectures", None) or [])
    if model_type not in _OPTIMIZER_MODEL_TYPES:
        raise ValueError(
            f"{src}: model type {model_type!r} is not supported; crossrank bundles hold encoder "
            f"cross-encoders of type {sorted(_OPTIMIZER_MODEL_TYPES)} with a sequence-"
            "classification head"
        )
    if archs:
        if not any(a.endswith("ForSequenceClassification") for a in archs):
            raise ValueError(
                f"{src}: architecture {', '.join(archs)} is not a sequence-classification model. "
                "A cross-encoder needs a *ForSequenceClassification head (e.g. "
                "BertForSequenceClassification). To put a new, untrained head on an encoder, load "
                "it with AutoModelForSequenceClassification.from_pretrained(path, num_labels=1), "
                "save_pretrained() it and export that folder (crossrank.default_model does this "
                "for MiniLM)."
            )
    elif not ("num_labels" in raw or "id2label" in raw):
        raise ValueError(
            f"{src}: config.json names no architecture and no labels (num_labels / id2label), so "
            "nothing says it is a sequence-classification model; set architectures to "
            "[\"...ForSequenceClassification\"] or give num_labels."
        )


def _score_and_activation(
    config, raw: dict[str, Any], activation: str | None, score_index: int | None
) -> tuple[int, str, list[str]]:
    notes: list[str] = []
    n = int(config.num_labels)
    if score_index is None:
        if n == 1:
            score_index = 0
        elif n == 2:
            score_index = 1
        else:
            labels = {int(k): str(v).lower() for k, v in (config.id2label or {}).items()}
            hits = [i for i, v in labels.items() if any(w in v for w in ("relev", "pos", "entail"))]
            score_index = hits[0] if hits else n - 1
            notes.append(
                f"{n}-label model: scoring label {score_index} ({labels.get(score_index)!r}); "
                "pass score_index= to choose another"
            )
    if not 0 <= score_index < n:
        raise ValueError(f"score_index {score_index} out of range for {n} labels")

    if activation is None:
        st = raw.get("sentence_transformers") or {}
        fn = str(st.get("activation_fn") or "")
        if fn:
            tail = fn.rsplit(".", 1)[-1].lower()
            mapped = {"sigmoid": "sigmoid", "identity": "none", "softmax": "softmax"}.get(tail)
            if mapped:
                activation = mapped
                notes.append(f"activation {mapped!r} taken from the model's sentence-transformers "
                             f"config ({fn})")
        if activation is None:
            activation = "sigmoid" if n == 1 else "softmax"
    if activation not in ("sigmoid", "none", "softmax"):
        raise ValueError(f"activation must be 'sigmoid', 'none' or 'softmax', not {activation!r}")
    return score_index, activation, notes


def _effective_max_length(config, requested: int) -> int:
    if requested < 8:
        raise ValueError(f"max_length {requested} is too small (need room for a query and a document)")
    mpe = getattr(config, "max_position_embeddings", None)
    if mpe is None:
        return int(requested)
    mpe = int(mpe)
    if getattr(config, "model_type", None) in _POSITION_OFFSET_MODEL_TYPES:
        mpe -= int(getattr(config, "pad_token_id", 1) or 1) + 1
    return int(min(mpe, requested))


# --------------------------------------------------------------------------------------------
# tokenizer


def _write_tokenizer(src: str, is_local: bool, dest: Path) -> tuple[dict[str, Any], list[str]]:
    """Writes DEST/tokenizer.json; returns (manifest info, notes)."""
    notes: list[str] = []
    info: dict[str, Any] = {}
    have = Path(src) / TOKENIZER_FILE if is_local else None
    if have is not None and have.is_file():
        data = json.loads(have.read_text(encoding="utf-8"))
        info["origin"] = "copied"
    else:
        from transformers import AutoTokenizer

        if is_local:
            present = sorted(
                f.name for f in Path(src).iterdir()
                if f.name in ("vocab.txt", "vocab.json", "merges.txt", "sentencepiece.bpe.model",
                              "spiece.model", "tokenizer.model", "tokenizer_config.json")
            )
            if not any(x != "tokenizer_config.json" for x in present):
                raise FileNotFoundError(
                    f"{src} has no tokenizer.json and no vocabulary (vocab.txt, vocab.json + "
                    "merges.txt, sentencepiece model) to build one from; copy the tokenizer files "
                    "of the base model into the folder"
                )
        try:
            tok = AutoTokenizer.from_pretrained(src, use_fast=True, local_files_only=is_local)
        except Exception as e:
            raise FileNotFoundError(f"could not load a tokenizer from {src}: {e}") from e
        if not getattr(tok, "is_fast", False):
            raise ValueError(
                f"{src}: only a slow (Python) tokenizer is available; crossrank needs a fast "
                "tokenizer serialisable as tokenizer.json"
            )
        with tempfile.TemporaryDirectory(prefix="crossrank-tok-") as td:
            tok.save_pretrained(td)
            data = json.loads((Path(td) / TOKENIZER_FILE).read_text(encoding="utf-8"))
        info["origin"] = "built with transformers' fast tokenizer (no tokenizer.json in the source)"
        notes.append("tokenizer.json was built from the model's vocabulary files by transformers")

    # The engine truncates and pads itself (crossrank.json's max_length, its own batching);
    # fixed-length padding or a short truncation left in the file would silently change scores.
    info["cleared"] = {"truncation": data.get("truncation"), "padding": data.get("padding")}
    data["truncation"] = None
    data["padding"] = None
    with open(dest / TOKENIZER_FILE, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
    model = data.get("model") or {}
    info["model"] = model.get("type")
    if isinstance(model.get("vocab"), (dict, list)):
        info["vocab_size"] = len(model["vocab"])
    return info, notes


# --------------------------------------------------------------------------------------------
# the three graph steps


class _Quiet:
    """Silences expected chatter from optimum / the quantizer (root-logger warnings) and Python
    warnings for the duration of a step; real errors still raise."""

    _LOGGERS = ("optimum", "optimum.exporters", "optimum.exporters.onnx", "transformers", "root")

    def __enter__(self):
        self._saved = []
        for name in self._LOGGERS:
            lg = logging.getLogger() if name == "root" else logging.getLogger(name)
            self._saved.append((lg, lg.level))
            lg.setLevel(logging.ERROR)
        self._warn = warnings.catch_warnings()
        self._warn.__enter__()
        warnings.simplefilter("ignore")
        return self

    def __exit__(self, *exc):
        self._warn.__exit__(*exc)
        for lg, level in self._saved:
            lg.setLevel(level)
        return False


def _onnx_export(model, out_dir: Path, opset: int | None) -> Path:
    from optimum.exporters.onnx import onnx_export_from_model

    with _Quiet():
        onnx_export_from_model(
            model,
            out_dir,
            opset=opset,
            task="text-classification",
            do_validation=False,  # we compare the fused graph with PyTorch ourselves below
        )
    path = out_dir / "model.onnx"
    if not path.is_file():  # pragma: no cover - optimum changed its layout
        raise RuntimeError(f"optimum wrote no model.onnx into {out_dir}: {os.listdir(out_dir)}")
    return path


def _optimize(raw_onnx: Path, out_path: Path, config) -> dict[str, Any]:
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    opt_type = _OPTIMIZER_MODEL_TYPES[config.model_type]
    options = FusionOptions(opt_type)
    # The embedding-LayerNorm fusion gets in the way of quantization (DESIGN.md, Quantization):
    # the int8 graph is made from this fused graph, so keep the embeddings unfused.
    options.enable_embed_layer_norm = False
    # ONNX Runtime's CPU SkipLayerNormalization kernel was measured ~3x slower than the Add +
    # LayerNormalization it replaces (22 % of int8 time on MiniLM); the engine also tells
    # ONNX Runtime not to re-fuse them at load (onnx_session.cc).
    options.enable_skip_layer_norm = False
    # Likewise BiasGelu: unfused, the int8 graph's MatMul takes the bias into its output pass and
    # ONNX Runtime's plain Gelu kernel is ~40 % faster than BiasGelu (csrc/core/onnx_session.h).
    options.enable_bias_gelu = False
    num_heads = int(config.num_attention_heads)
    hidden = int(config.hidden_size)
    opt_level = 1  # ONNX Runtime basic (hardware-independent) optimizations before the fusions
    with _Quiet():
        m = optimize_model(
            str(raw_onnx),
            model_type=opt_type,
            num_heads=num_heads,
            hidden_size=hidden,
            optimization_options=options,
            opt_level=opt_level,
            use_gpu=False,
        )
    stats = {k: int(v) for k, v in (m.get_fused_operator_statistics() or {}).items()}
    m.save_model_to_file(str(out_path), use_external_data_format=False)
    ops: dict[str, int] = {}
    for node in m.model.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return {
        "tool": "onnxruntime.transformers.optimizer",
        "model_type": opt_type,
        "opt_level": opt_level,
        "num_heads": num_heads,
        "hidden_size": hidden,
        "options": {k: v for k, v in vars(options).items() if isinstance(v, (bool, int, str))},
        "applied": sorted(k for k, v in stats.items() if v > 0),
        "fused_operators": stats,
        "graph_ops": dict(sorted(ops.items())),
    }


def _quantize(fused: Path, out_path: Path, reduce_range: bool | None = None,
              per_channel: bool = True) -> dict[str, Any]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    vnni, cpu = _int8_cpu()
    if reduce_range is None:
        reduce_range = vnni is False
    with _Quiet():
        quantize_dynamic(
            fused,
            out_path,
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            # Shape inference cannot see through the fused contrib ops; without this the
            # quantizer fails with "Unable to find data type for weight_name=..." (DESIGN.md).
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    g = onnx.load(str(out_path), load_external_data=False).graph
    ops: dict[str, int] = {}
    for node in g.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    quantized_names = {"MatMulInteger", "QAttention", "DynamicQuantizeLinear", "DynamicQuantizeMatMul",
                       "QGemm", "QLinearMatMul", "DequantizeLinear", "QuantizeLinear"}
    return {
        "method": "dynamic",
        "format": "QOperator",
        "per_channel": per_channel,
        "weight_type": "int8",
        "activation_type": "uint8",
        "reduce_range": reduce_range,
        "built_on_cpu_with_vnni": vnni,
        "built_on_cpu": cpu,
        "extra_options": {"DefaultTensorType": "FLOAT"},
        "quantized_ops": {k: v for k, v in sorted(ops.items()) if k in quantized_names},
        "graph_ops": dict(sorted(ops.items())),
    }


def _engine_graphs(bundle: Path) -> dict[str, Any]:
    """Writes the bundle's engine graphs and checks each through the engine against the standard
    graphs, on the verification pairs and two built-in pools, in padded batches of up to 8.

    fp32 must match its standard graph within 1e-4 (logits). int8 cannot match its standard graph
    that closely: dynamic quantization rounds each activation to a uint8 step, so the ~1e-7
    differences between two attention kernels flip a few roundings and the two graphs differ by
    int8 noise. It must be no further from fp32 on average than the standard int8 graph is
    (mean |logit difference| x 1.25, + 1e-4). A graph that fails is deleted and the reason
    recorded: the engine then runs the standard graph.
    """
    import dataclasses

    import numpy as np

    from crossrank import _native
    from crossrank.bundle import Bundle
    from crossrank.engine_graph import write_engine_graph
    from crossrank.fidelity import builtin_pools
    from crossrank.reranker import Reranker

    standard = dataclasses.replace(Bundle.load(bundle), engine_files={})
    pairs = list(VERIFICATION_PAIRS) + [(p.query, d) for p in builtin_pools(2, 30) for d in p.docs]

    def logits(b: Bundle, precision: str) -> np.ndarray:
        reranker = Reranker(b, precision=precision, activation="none", max_batch_size=8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # truncation of long pairs is the same for both graphs
            return np.asarray(reranker.score_pairs(pairs, show_progress=False), dtype=np.float64)

    reference = {p: logits(standard, p) for p in ENGINE_FILES if p in standard.model_files}
    out: dict[str, Any] = {}
    for precision, name in ENGINE_FILES.items():
        if precision not in reference:
            continue
        ops = write_engine_graph(bundle / standard.model_files[precision].name, bundle / name)
        if not any(ops.values()):
            out[precision] = {"file": None, "crossrank_ops": ops}
            continue
        ours = logits(dataclasses.replace(standard, engine_files={precision: bundle / name}), precision)
        entry: dict[str, Any] = {"file": name, "crossrank_ops": ops, "pairs": len(pairs),
                                 # Without AVX-512 the engine runs the standard graph: nothing was compared.
                                 "checked_on_this_cpu": _native.KERNELS == "avx512",
                                 "max_abs_diff_vs_standard": float(np.abs(ours - reference[precision]).max())}
        if precision == "fp32":
            ok = entry["max_abs_diff_vs_standard"] <= 1e-4
        else:
            fp32 = reference.get("fp32")
            if fp32 is None:
                ok = False
            else:
                for key, graph in (("", ours), ("standard_", reference[precision])):
                    entry[f"{key}max_abs_diff_vs_fp32"] = float(np.abs(graph - fp32).max())
                    entry[f"{key}mean_abs_diff_vs_fp32"] = float(np.abs(graph - fp32).mean())
                ok = entry["mean_abs_diff_vs_fp32"] <= 1.25 * entry["standard_mean_abs_diff_vs_fp32"] + 1e-4
        if not ok:
            (bundle / name).unlink()
            entry["file"] = None
            entry["rejected"] = "disagrees with the standard graph beyond the tolerance"
        out[precision] = entry
    return out


def _verify(model, bundle: Path, max_length: int) -> dict[str, Any]:
    """Compares the fused fp32 graph (and the int8 one) with the PyTorch model on a few pairs."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(bundle / TOKENIZER_FILE))
    tok.enable_truncation(max_length=max_length)
    pad_id = tok.token_to_id("[PAD]")
    if pad_id is None:
        pad_id = int(getattr(model.config, "pad_token_id", 0) or 0)
    tok.enable_padding(pad_id=pad_id)
    # Short pairs go in one padded batch (exercises the attention mask); long ones run alone so
    # padding to 512 does not multiply the cost of the check.
    lengths = [len(tok.encode(q, d).ids) for q, d in VERIFICATION_PAIRS]
    short = [p for p, n in zip(VERIFICATION_PAIRS, lengths) if n <= 128]
    groups = [short] + [[p] for p, n in zip(VERIFICATION_PAIRS, lengths) if n > 128]

    so = ort.SessionOptions()
    so.intra_op_num_threads = min(4, os.cpu_count() or 1)
    sessions = {key: ort.InferenceSession(str(bundle / fname), so, providers=["CPUExecutionProvider"])
                for key, fname in (("fp32", FP32_FILE), ("int8", INT8_FILE))}
    accepted = set(model.forward.__code__.co_varnames)
    refs, outs = [], {"fp32": [], "int8": []}
    for group in (g for g in groups if g):
        enc = tok.encode_batch(group)
        feeds = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        with torch.inference_mode():
            ref = model(**{k: torch.from_numpy(v) for k, v in feeds.items() if k in accepted}).logits
        refs.append(ref.float().numpy())
        for key, sess in sessions.items():
            names = {i.name for i in sess.get_inputs()}
            outs[key].append(sess.run(["logits"], {k: v for k, v in feeds.items() if k in names})[0])
    ref = np.concatenate(refs)
    fp32, int8 = np.concatenate(outs["fp32"]), np.concatenate(outs["int8"])
    out: dict[str, Any] = {
        "pairs": len(VERIFICATION_PAIRS),
        "tokens_max": int(max(min(n, max_length) for n in lengths)),
        "reference": "PyTorch fp32 (transformers), same tokenization",
        "fp32_max_abs_diff": float(np.max(np.abs(fp32 - ref))),
        "int8_max_abs_diff": float(np.max(np.abs(int8 - ref))),
        "int8_vs_fp32_max_abs_diff": float(np.max(np.abs(int8 - fp32))),
    }
    out["reference_logit_range"] = [float(ref.min()), float(ref.max())]
    if not out["fp32_max_abs_diff"] <= _FP32_FAIL_THRESHOLD:
        raise RuntimeError(
            f"the fused fp32 graph disagrees with PyTorch by {out['fp32_max_abs_diff']:.3g} "
            f"(> {_FP32_FAIL_THRESHOLD}); refusing to write a broken bundle"
        )
    return out


def _write_json(path: Path, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
        f.write("\n")


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    _write_json(folder / MANIFEST_FILE, manifest)


# --------------------------------------------------------------------------------------------
# fidelity report and quality gate


def _gate_thresholds(gate: Any):
    from crossrank.quality_gate import GateThresholds

    if gate is True or gate is None:
        return GateThresholds()
    if gate is False:
        return None
    if isinstance(gate, GateThresholds):
        return gate
    if isinstance(gate, dict):
        return GateThresholds(**gate)
    raise TypeError(f"gate must be True, False, a dict or a GateThresholds, not {type(gate).__name__}")


def _graph_ops(path: Path) -> dict[str, int]:
    import onnx

    ops: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return dict(sorted(ops.items()))


def _fp32_vs_pytorch(verification: dict[str, Any] | None) -> dict[str, Any] | None:
    if not verification:
        return None
    return {"max_abs_diff": verification["fp32_max_abs_diff"], "pairs": verification["pairs"],
            "reference": verification["reference"]}


def _fidelity(folder: Path, steps: _Progress, manifest: dict[str, Any], thresholds, eval_dir,
              eval_queries: int | None, eval_depth: int, per_channel: bool, reduce_range: bool,
              progress: bool) -> dict[str, Any]:
    """Steps 5 and 6: the fidelity report (int8 vs fp32 on the pools) and the quality gate."""
    from crossrank import fidelity as F
    from crossrank import quality_gate as Q

    def say(line: str) -> None:
        log.info(line)
        if progress:
            print(line, file=sys.stderr, flush=True)

    with steps.step("fidelity", "fidelity report: int8 vs fp32 on query pools (crossrank engine)"):
        t0 = time.perf_counter()
        builtin = F.builtin_pools()
        sets = [Q.PoolSet("builtin", builtin, None, {
            "pools": len(builtin), "pairs": sum(len(p.docs) for p in builtin),
            "candidates": "built-in: questions about the Python language reference, passages from "
                          "pydoc_data (ships with Python); no judgements",
        })]
        if eval_dir is not None:
            pools, qrels, info = F.eval_pools(eval_dir, depth=eval_depth, max_queries=eval_queries)
            sets.append(Q.PoolSet("eval", pools, qrels, info))
        pools_s = round(time.perf_counter() - t0, 3)
        runner = Q.Gate(folder, sets, thresholds or Q.GateThresholds(mixed_precision=False),
                        per_channel=per_channel, reduce_range=reduce_range,
                        gate_sets=["eval"] if eval_dir is not None else ["builtin"], log=say)
        runner.measure_base()
    with steps.step("gate", "quality gate" + ("" if thresholds else " (off: report only)")):
        if thresholds is None:
            ok, reasons = runner.check(runner.base["metrics"])
            runner.base["chosen"] = True
            record = {"decision": "off", "passed": ok, "failed_because": reasons,
                      "default_precision": manifest["default_precision"], "chosen": runner.base["name"],
                      "kept_fp32": [], "excluded_nodes": [], "fp32_cost_share": 0.0,
                      "message": "off (report only): " + ("int8 would pass" if ok else
                                                         "int8 would fail: " + "; ".join(reasons)),
                      "engine": runner.engine, "variants": runner.variants, "sensitivity": [],
                      "time_s": dict(runner.time_s)}
        else:
            record = runner.search()
    record["changed_int8"] = record["chosen"] != runner.base["name"]
    record["quantized_ops"] = next(v for v in record["variants"] if v.get("chosen"))["quantized_ops"]
    record["time_s"]["pools"] = pools_s
    variants = record.pop("variants")
    sensitivity = record.pop("sensitivity")
    return {
        "format_version": 1,
        "model": manifest["source"]["model"],
        "what": "agreement of the bundle's int8 graph(s) with its fp32 graph, same tokenization and "
                "engine; nDCG@10 only where judged data was given. Agreement, not ranking quality.",
        "engine": record.get("engine"),
        "fp32_vs_pytorch": _fp32_vs_pytorch(manifest.get("verification")),
        "pool_sets": {ps.name: ps.info for ps in sets},
        "gate": record,
        "variants": variants,
        "sensitivity": sensitivity,
    }


def _fidelity_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What crossrank.json keeps of report.json: the decision and every variant's numbers."""
    keep = ("top10_overlap", "top10_overlap_min", "kendall_tau", "spearman", "ndcg@10_reference",
            "ndcg@10_test", "ndcg@10_drop_points", "pools", "pairs")
    gate = report["gate"]
    return {
        "report": REPORT_FILE,
        "engine": report["engine"],
        "fp32_vs_pytorch_max_abs_diff": (report.get("fp32_vs_pytorch") or {}).get("max_abs_diff"),
        "gate": {k: gate.get(k) for k in ("decision", "passed", "message", "thresholds", "gated_on",
                                          "chosen", "kept_fp32", "fp32_cost_share", "note")},
        "variants": [
            {"name": v["name"], "passed": v["passed"], "chosen": bool(v.get("chosen")),
             "kept_fp32": v["kept_fp32"],
             "metrics": {s: {k: m[k] for k in keep if k in m} for s, m in v["metrics"].items()}}
            for v in report["variants"]
        ],
    }


# --------------------------------------------------------------------------------------------
# placing the finished bundle


def _install(tmp: Path, out_dir: Path) -> None:
    """Moves the finished TMP bundle to OUT_DIR; replaces an older bundle there."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise FileExistsError(f"{out_dir} exists and is not a folder")
        entries = list(out_dir.iterdir())
        if entries and not (out_dir / MANIFEST_FILE).is_file():
            raise FileExistsError(
                f"{out_dir} is not empty and holds no crossrank bundle; refusing to overwrite it"
            )
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}-{int(time.time() * 1000)}")
        os.replace(out_dir, old)
        try:
            os.replace(tmp, out_dir)
        except BaseException:
            os.replace(old, out_dir)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)


# --------------------------------------------------------------------------------------------
# command-line arguments (shared by `crossrank export` and scripts/export_model.py)


def add_export_arguments(parser) -> None:
    """Adds MODEL, --out and the export options to an argparse (sub)parser; turn the parsed
    namespace into export_bundle arguments with :func:`export_kwargs`. Imports nothing heavy."""
    from crossrank.quality_gate import add_gate_arguments

    parser.add_argument("model", help="local Hugging Face model folder, or a Hub id")
    parser.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    parser.add_argument("--max-length", type=int, default=512,
                        help="longest pair in tokens (capped by the model's positions; default 512)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: optimum's choice)")
    parser.add_argument("--reduce-range", choices=("auto", "on", "off"), default="auto",
                        help="7-bit int8 weights, for x86 CPUs without VNNI (auto: decide from this CPU)")
    parser.add_argument("--per-tensor", action="store_true",
                        help="one int8 scale per weight tensor instead of per output channel")
    add_gate_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress lines or report table")


def export_kwargs(args) -> dict[str, Any]:
    """export_bundle(model, out, **export_kwargs(args)) for arguments from add_export_arguments."""
    from crossrank.quality_gate import gate_kwargs

    return {
        "max_length": args.max_length,
        "opset": args.opset,
        "progress": not args.quiet,
        "reduce_range": {"auto": None, "on": True, "off": False}[args.reduce_range],
        "per_channel": not args.per_tensor,
        **gate_kwargs(args),
    }


# --------------------------------------------------------------------------------------------
# public entry point


def export_bundle(
    model: str | Path,
    out_dir: str | Path,
    *,
    max_length: int = 512,
    opset: int | None = None,
    progress: bool = True,
    activation: str | None = None,
    score_index: int | None = None,
    notes: Sequence[str] = (),
    source_name: str | None = None,
    verify: bool = True,
    reduce_range: bool | None = None,
    per_channel: bool = True,
    fidelity: bool = True,
    eval_dir: str | Path | None = None,
    eval_queries: int | None = 50,
    eval_depth: int = 100,
    gate: Any = True,
) -> Path:
    """Exports a Hugging Face sequence-classification model to a crossrank bundle.

    MODEL: a local Hugging Face folder, or a Hub id (loaded through transformers; needs network).
    OUT_DIR: the bundle folder. It is written atomically (built next to it, then renamed); an
    existing bundle there is replaced, any other non-empty folder is refused.

    Steps, each timed: ONNX export (optimum), transformer fusions (ONNX Runtime optimizer, fp32),
    dynamic int8 quantization (per-channel, U8S8), a check of both graphs against PyTorch on
    a few pairs (stored under "verification" in crossrank.json), and last the engine graphs: each
    graph again with its attention core on crossrank's kernel (crossrank.engine_graph), checked
    against the standard graph through the engine ("engine_graphs" in crossrank.json).

    activation / score_index override what is derived from the labels ("sigmoid" on the only
    logit for one-label models, "softmax" and label 1 for two-label models). NOTES are appended
    to the manifest's notes; SOURCE_NAME replaces the recorded source (e.g. for temporary folders).
    REDUCE_RANGE: 7-bit weights for x86 CPUs without VNNI; None decides from this CPU.
    PER_CHANNEL: per-channel int8 weights (False: one scale per weight tensor).

    Fidelity report and quality gate (FIDELITY=True, the default): both graphs score a set of
    query/candidate pools through crossrank's engine: the built-in offline pools
    (crossrank.fidelity.builtin_pools) and, with EVAL_DIR (BEIR layout: corpus.jsonl,
    queries.jsonl, qrels/test.tsv), BM25 top-EVAL_DEPTH pools of EVAL_QUERIES judged queries
    (None: all), which adds nDCG@10 of fp32 and int8 and gates on those pools. GATE: True (default
    thresholds), a crossrank.quality_gate.GateThresholds, or False (report only, never change the
    bundle). When int8 falls below the thresholds, operator groups are kept in fp32 by measurement
    (mixed precision); if that does not reach them either, crossrank.json gets
    default_precision "fp32". Everything measured goes to report.json (and a summary to
    crossrank.json under "fidelity").

    Raises FileNotFoundError (no such folder, no tokenizer), ValueError (not a supported
    sequence-classification model), ImportError (export extra not installed).
    """
    src, is_local = _resolve_source(model)
    out_dir = Path(out_dir).expanduser().absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST_FILE).is_file():
        raise FileExistsError(f"{out_dir} is not empty and holds no crossrank bundle; refusing to overwrite it")
    _require_export_deps()

    config = _load_config(src, is_local)
    raw = _raw_config_dict(src, is_local)
    _check_classification(config, raw, src)
    eff_max_length = _effective_max_length(config, max_length)
    score_idx, act, label_notes = _score_and_activation(config, raw, activation, score_index)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if fidelity:
        gate_thresholds = _gate_thresholds(gate)
        if eval_dir is not None:
            from crossrank.fidelity import load_beir

            load_beir(eval_dir)  # a wrong folder fails now, not after the export's slow steps
    elif eval_dir is not None:
        raise ValueError("eval_dir needs fidelity=True (the fidelity report is what uses it)")
    steps = _Progress((5 if verify else 4) + (2 if fidelity else 0), progress)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700; the bundle should read like a folder
    try:
        tok_info, tok_notes = _write_tokenizer(src, is_local, tmp)

        from transformers import AutoModelForSequenceClassification

        with tempfile.TemporaryDirectory(prefix="crossrank-export-") as work:
            with steps.step("onnx_export", "ONNX export (optimum)"):
                try:
                    hf_model = AutoModelForSequenceClassification.from_pretrained(
                        src, local_files_only=is_local
                    )
                except OSError as e:
                    if is_local:
                        raise
                    raise OSError(
                        f"could not load {src!r} from the Hugging Face Hub (offline?): {e}"
                    ) from e
                hf_model = hf_model.float().eval()
                raw_onnx = _onnx_export(hf_model, Path(work), opset)

            import onnx

            raw_model = onnx.load(str(raw_onnx), load_external_data=False)
            opset_used = max(
                (o.version for o in raw_model.opset_import if o.domain in ("", "ai.onnx")),
                default=None,
            )
            inputs = [i.name for i in raw_model.graph.input]
            outputs = [o.name for o in raw_model.graph.output]
            del raw_model
            if "logits" not in outputs:
                raise RuntimeError(f"exported graph has outputs {outputs}, expected 'logits'")

            with steps.step("optimize", "transformer fusions (onnxruntime optimizer, fp32)"):
                optimization = _optimize(raw_onnx, tmp / FP32_FILE, config)

        kind = "per-channel" if per_channel else "per-tensor"
        with steps.step("quantize", f"dynamic int8 quantization ({kind}, U8S8)"):
            quantization = _quantize(tmp / FP32_FILE, tmp / INT8_FILE, reduce_range, per_channel)

        verification = None
        if verify:
            with steps.step("verify", "check against PyTorch"):
                verification = _verify(hf_model, tmp, eff_max_length)

        all_notes = list(label_notes) + list(tok_notes) + list(notes)
        if not quantization["reduce_range"] and quantization["built_on_cpu_with_vnni"] is not None:
            all_notes.append(
                "int8 weights use the full int8 range (no reduce_range); on x86 CPUs without VNNI "
                "U8S8 products can saturate: re-export there (reduce_range) or use fp32"
            )
        manifest = {
            "format_version": FORMAT_VERSION,
            "max_length": eff_max_length,
            "num_labels": int(config.num_labels),
            "score_index": score_idx,
            "activation": act,
            "files": {"fp32": FP32_FILE, "int8": INT8_FILE, "tokenizer": TOKENIZER_FILE},
            "default_precision": "int8",
            "inputs": inputs,
            "output": "logits",
            "labels": {str(k): v for k, v in sorted((config.id2label or {}).items())},
            "source": {
                "model": source_name or src,
                "architecture": (list(config.architectures or []) or [type(hf_model).__name__])[0],
                "model_type": config.model_type,
                "max_position_embeddings": getattr(config, "max_position_embeddings", None),
                "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "versions": _versions(),
                "opset": opset_used,
            },
            "tokenizer": tok_info,
            "optimization": optimization,
            "quantization": quantization,
            "verification": verification,
            "timings_s": steps.timings,
            "checksums_sha256": {},
            "notes": all_notes,
        }
        _write_manifest(tmp, manifest)  # the engine reads it to score the fidelity pools

        if fidelity:
            report = _fidelity(tmp, steps, manifest, gate_thresholds, eval_dir, eval_queries,
                               eval_depth, per_channel, quantization["reduce_range"], progress)
            if report["gate"].get("changed_int8") and verify:
                # the int8 file is now the variant the gate chose: check it against PyTorch too
                verification = _verify(hf_model, tmp, eff_max_length)
                manifest["verification"] = verification
            if report["gate"].get("changed_int8"):
                manifest["quantization"]["graph_ops"] = _graph_ops(tmp / INT8_FILE)
            if report["fp32_vs_pytorch"] is None and verification:
                report["fp32_vs_pytorch"] = _fp32_vs_pytorch(verification)
            manifest["quantization"]["quantized_ops"] = report["gate"]["quantized_ops"]
            manifest["quantization"]["kept_fp32"] = report["gate"]["kept_fp32"]
            manifest["quantization"]["excluded_nodes"] = report["gate"]["excluded_nodes"]
            manifest["default_precision"] = report["gate"]["default_precision"]
            manifest["fidelity"] = _fidelity_summary(report)
            manifest["timings_s"] = steps.timings
            if report["gate"]["decision"] == "fp32":
                manifest["notes"].append(
                    "quality gate: int8 did not agree with fp32 closely enough (see report.json); "
                    "the engine defaults to fp32 for this bundle (precision='int8' still runs the "
                    "closest int8 variant)")
            elif report["gate"]["decision"] == "mixed":
                manifest["notes"].append(
                    f"quality gate: int8 graph is mixed precision, {', '.join(report['gate']['kept_fp32'])} "
                    "kept in fp32 (see report.json)")
            _write_json(tmp / REPORT_FILE, report)
            if progress:
                from crossrank.fidelity import format_report

                print(format_report(report), file=sys.stderr, flush=True)
        with steps.step("engine_graphs", "engine graphs (attention core on crossrank's kernel)"):
            engine = _engine_graphs(tmp)
        manifest["engine_graphs"] = engine
        manifest["engine_files"] = {p: e["file"] for p, e in engine.items() if e.get("file")}
        manifest["timings_s"] = steps.timings
        manifest["checksums_sha256"] = {f: _sha256(tmp / f) for f in (FP32_FILE, INT8_FILE, TOKENIZER_FILE,
                                                                      *manifest["engine_files"].values())}
        _write_manifest(tmp, manifest)
        _install(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
