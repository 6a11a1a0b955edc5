"""``export_bundle``: a Hugging Face sequence-classification model to a crossrank bundle, step by step.

The steps, each timed (:class:`Steps`): ONNX export (optimum), transformer fusions (ONNX Runtime
optimizer, fp32), dynamic int8 quantization, the check against PyTorch, the fidelity report and
quality gate, and the engine graphs. The bundle's format is spelled in :mod:`crossrank.bundle`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossrank._folders import atomic_folder, check_replaceable
from crossrank.beir import read_beir
from crossrank.bundle import (
    FORMAT_VERSION,
    FP32_FILE,
    INT8_FILE,
    INT8_STATIC_FILE,
    MANIFEST_FILE,
    REPORT_FILE,
    TOKENIZER_FILE,
    checksums,
    write_json,
    write_manifest,
)
from crossrank.export.kernel_rungs import KERNEL_RUNGS, kernel_rung_step
from crossrank.export.fidelity import format_report
from crossrank.export.onnx_steps import (
    count_ops,
    export_versions,
    graph_signature,
    onnx_export,
    optimize,
    quantize,
)
from crossrank.export.precision_steps import rung_step, static_step
from crossrank.export.report import apply_gate, gate_thresholds, run_fidelity
from crossrank.export.rungs import check_calibration_dir, format_rungs
from crossrank.export.source import (
    SourceModel,
    describe_source,
    effective_max_length,
    load_model,
    require_export_deps,
    resolve_source,
    write_tokenizer,
)
from crossrank.export.verify import engine_graphs, fp32_vs_pytorch, verify_against_pytorch

log = logging.getLogger("crossrank.export")


class Steps:
    """Times the steps and prints '[i/n] label … 4.2 s' lines."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.index = 0
        self.timings: dict[str, float] = {}

    def say(self, line: str) -> None:
        """Log LINE, and print it to stderr when progress is on."""
        log.info(line)
        if self.enabled:
            print(line, file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def step(self, key: str, label: str) -> Iterator[None]:
        """Time the block as step KEY (timings_s in the manifest) and print its line."""
        self.index += 1
        t0 = time.perf_counter()
        status = "failed after "
        try:
            yield
            status = ""
        finally:
            dt = time.perf_counter() - t0
            self.timings[key] = round(dt, 3)
            self.say(f"[{self.index}/{self.total}] {label} … {status}{dt:.1f} s")


@dataclass(frozen=True)
class ExportOptions:
    """The options of :func:`export_bundle`, as given (see its docstring)."""

    max_length: int = 512
    opset: int | None = None
    progress: bool = True
    activation: str | None = None
    score_index: int | None = None
    notes: tuple[str, ...] = ()
    source_name: str | None = None
    verify: bool = True
    reduce_range: bool | None = None
    per_channel: bool = True
    fidelity: bool = True
    eval_dir: str | Path | None = None
    eval_queries: int | None = 50
    eval_depth: int = 100
    gate: Any = True
    calibration_dir: str | Path | None = None
    calibration_method: str = "MinMax"

    @property
    def step_count(self) -> int:
        # fidelity: report, gate, static int8, one step per kernel rung, the rung timing
        return (5 if self.verify else 4) + (4 + len(KERNEL_RUNGS) if self.fidelity else 0)


@dataclass
class _Graphs:
    """What the graph steps made: the PyTorch model (the reference) and the raw graph's signature."""

    hf_model: Any
    opset: int | None
    inputs: list[str]
    optimization: dict[str, Any]


def _check_fidelity_options(options: ExportOptions) -> Any:
    """The gate's thresholds (None: report only); a wrong EVAL_DIR fails now, not after the slow steps."""
    if not options.fidelity:
        for name in ("eval_dir", "calibration_dir"):
            if getattr(options, name) is not None:
                raise ValueError(f"{name} needs fidelity=True (the fidelity report and the rungs use it)")
        return None
    thresholds = gate_thresholds(options.gate)
    if options.eval_dir is not None:
        read_beir(options.eval_dir)
    check_calibration_dir(options.calibration_dir)
    return thresholds


def _build_graphs(source: SourceModel, folder: Path, options: ExportOptions, steps: Steps) -> _Graphs:
    """Steps 1 and 2: optimum's ONNX export, then the fused fp32 graph FOLDER/model.onnx."""
    from transformers import AutoModelForSequenceClassification

    with tempfile.TemporaryDirectory(prefix="crossrank-export-") as work:
        with steps.step("onnx_export", "ONNX export (optimum)"):
            hf_model = load_model(source.src, source.is_local, AutoModelForSequenceClassification)
            raw_onnx = onnx_export(hf_model, Path(work), task="text-classification", opset=options.opset)
        opset, inputs, outputs = graph_signature(raw_onnx)
        if "logits" not in outputs:
            raise RuntimeError(f"exported graph has outputs {outputs}, expected 'logits'")
        with steps.step("optimize", "transformer fusions (onnxruntime optimizer, fp32)"):
            optimization = optimize(raw_onnx, folder / FP32_FILE, source.config)
    return _Graphs(hf_model, opset, inputs, optimization)


def _manifest(source: SourceModel, graphs: _Graphs, options: ExportOptions, tokenizer: dict[str, Any],
              quantization: dict[str, Any], verification: dict[str, Any] | None,
              notes: list[str], steps: Steps) -> dict[str, Any]:
    """crossrank.json as it stands after the graph steps (the engine reads it for the later ones)."""
    config = source.config
    if not quantization["reduce_range"] and quantization["built_on_cpu_with_vnni"] is not None:
        notes.append(
            "int8 weights use the full int8 range (no reduce_range); on x86 CPUs without VNNI "
            "U8S8 products can saturate: re-export there (reduce_range) or use fp32"
        )
    return {
        "format_version": FORMAT_VERSION,
        "family": source.family.name,
        "max_length": source.max_length,
        **_graph_limits(source, graphs.hf_model),
        "num_labels": int(config.num_labels),
        "score_index": source.score_index,
        "activation": source.activation,
        "files": {"fp32": FP32_FILE, "int8": INT8_FILE, "tokenizer": TOKENIZER_FILE},
        "default_precision": "int8",
        "inputs": graphs.inputs,
        "output": "logits",
        "labels": {str(k): v for k, v in sorted((config.id2label or {}).items())},
        "source": {
            "model": options.source_name or source.src,
            "architecture": (list(config.architectures or []) or [type(graphs.hf_model).__name__])[0],
            "model_type": config.model_type,
            "max_position_embeddings": getattr(config, "max_position_embeddings", None),
            "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": export_versions(),
            "opset": graphs.opset,
        },
        "tokenizer": tokenizer,
        "optimization": graphs.optimization,
        "quantization": quantization,
        "verification": verification,
        "timings_s": steps.timings,
        "checksums_sha256": {},
        "notes": notes,
    }


def _graph_limits(source: SourceModel, hf_model: Any) -> dict[str, int]:
    """vocab_rows (token embedding rows) and max_positions (longest sequence the position embeddings
    cover): a Reranker checks the tokenizer and max_length against them at load, without reading
    the graph."""
    limits = {"vocab_rows": int(hf_model.get_input_embeddings().num_embeddings)}
    if getattr(source.config, "max_position_embeddings", None) is not None:
        limits["max_positions"] = effective_max_length(source.config, 2**31 - 1)
    return limits


def _fidelity_step(folder: Path, manifest: dict[str, Any], thresholds: Any, graphs: _Graphs,
                   source: SourceModel, options: ExportOptions, steps: Steps) -> tuple[list, dict[str, Any]]:
    """Steps 5 to 7: the fidelity report, the dynamic int8 gate (its decision folded into MANIFEST),
    the static int8 rung. Returns (the pool sets, report.json's contents so far)."""
    sets, report = run_fidelity(folder, steps, manifest, thresholds, eval_dir=options.eval_dir,
                          eval_queries=options.eval_queries, eval_depth=options.eval_depth,
                          per_channel=options.per_channel,
                          reduce_range=manifest["quantization"]["reduce_range"], say=steps.say)
    verification = manifest["verification"]
    if report["gate"].get("changed_int8") and options.verify:
        # the int8 file is now the variant the gate chose: check it against PyTorch too
        verification = verify_against_pytorch(graphs.hf_model, folder, source.max_length)
        manifest["verification"] = verification
    if report["gate"].get("changed_int8"):
        manifest["quantization"]["graph_ops"] = count_ops(folder / INT8_FILE)
    if report["fp32_vs_pytorch"] is None and verification:
        report["fp32_vs_pytorch"] = fp32_vs_pytorch(verification)
    apply_gate(manifest, report)
    with steps.step("int8_static", f"static int8 ({options.calibration_method} calibration, QDQ U8S8)"):
        static_step(folder, manifest, report, sets, thresholds, calibration_dir=options.calibration_dir,
                    method=options.calibration_method, say=steps.say)
    return sets, report


def _rung_step(folder: Path, manifest: dict[str, Any], report: dict[str, Any], sets: list, thresholds: Any,
               options: ExportOptions, steps: Steps) -> None:
    """Last step with fidelity: every rung timed, the fastest passing one the default; report.json."""
    with steps.step("rungs", "precision rungs: speed on this machine, fastest passing one"):
        rung_step(folder, manifest, report, sets, thresholds is not None)
    manifest["timings_s"] = steps.timings
    write_json(folder / REPORT_FILE, report)
    if options.progress:
        print(format_report(report) + "\n" + format_rungs(report), file=sys.stderr, flush=True)


def _engine_graph_step(folder: Path, manifest: dict[str, Any], source: SourceModel, steps: Steps) -> None:
    """Last step: the engine graphs, then the final timings and checksums."""
    with steps.step("engine_graphs", "engine graphs (attention core on crossrank's kernel)"):
        engine = engine_graphs(folder, source.family.kernel_note)
    manifest["engine_graphs"] = engine
    manifest["engine_files"] = {p: e["file"] for p, e in engine.items() if e.get("file")}
    manifest["timings_s"] = steps.timings
    static = (INT8_STATIC_FILE,) if (folder / INT8_STATIC_FILE).is_file() else ()
    manifest["checksums_sha256"] = checksums(
        folder, (FP32_FILE, INT8_FILE, *static, TOKENIZER_FILE, *manifest["engine_files"].values()))


def _write_bundle(folder: Path, source: SourceModel, options: ExportOptions, thresholds: Any) -> None:
    """Every step, into the empty FOLDER."""
    steps = Steps(options.step_count, options.progress)
    tokenizer, tokenizer_notes = write_tokenizer(source.src, source.is_local, folder)
    graphs = _build_graphs(source, folder, options, steps)
    kind = "per-channel" if options.per_channel else "per-tensor"
    with steps.step("quantize", f"dynamic int8 quantization ({kind}, U8S8)"):
        quantization = quantize(folder / FP32_FILE, folder / INT8_FILE, options.reduce_range, options.per_channel)
    verification = None
    if options.verify:
        with steps.step("verify", "check against PyTorch"):
            verification = verify_against_pytorch(graphs.hf_model, folder, source.max_length)
    notes = [*source.notes, *tokenizer_notes, *options.notes]
    manifest = _manifest(source, graphs, options, tokenizer, quantization, verification, notes, steps)
    write_manifest(folder, manifest)  # the engine reads it to score the fidelity pools
    if options.fidelity:
        sets, report = _fidelity_step(folder, manifest, thresholds, graphs, source, options, steps)
        write_manifest(folder, manifest)  # the engine graph step reads files.int8_static
    _engine_graph_step(folder, manifest, source, steps)
    if options.fidelity:
        write_manifest(folder, manifest)  # the rungs load the bundle with its engine graphs
        for rung in KERNEL_RUNGS:
            with steps.step(rung.precision, f"{rung.precision} rung ({rung.gemm})"):
                kernel_rung_step(rung, folder, manifest, report, sets, thresholds, say=steps.say)
            write_manifest(folder, manifest)
        _rung_step(folder, manifest, report, sets, thresholds, options, steps)
    write_manifest(folder, manifest)


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
    calibration_dir: str | Path | None = None,
    calibration_method: str = "MinMax",
) -> Path:
    """Exports a Hugging Face sequence-classification model to a crossrank bundle.

    Steps, each timed: ONNX export (optimum), transformer fusions (ONNX Runtime optimizer, fp32),
    dynamic int8 quantization (per-channel, U8S8), a check of both graphs against PyTorch on
    a few pairs (stored under "verification" in crossrank.json), and last the engine graphs: each
    graph again with its attention core on crossrank's kernel (crossrank.export.engine_graph),
    checked against the standard graph through the engine ("engine_graphs" in crossrank.json).

    Fidelity report and quality gate (FIDELITY=True, the default): both graphs score a set of
    query/candidate pools through crossrank's engine: the built-in offline pools
    (crossrank.export.fidelity.builtin_pools) and, with EVAL_DIR, BM25 top-EVAL_DEPTH pools of
    EVAL_QUERIES judged queries, which adds nDCG@10 of fp32 and int8 and gates on those pools.
    When int8 falls below the thresholds, operator groups are kept in fp32 by measurement
    (mixed precision). Without EVAL_DIR the gate applies to both built-in domains (documentation
    and web passages). Then static int8 (model.int8_static.onnx, scales calibrated on
    CALIBRATION_DIR or the gate's pools) is measured the same way, and so are the kernel rungs
    int8_token and bf16 where this CPU has AVX512-VNNI / AVX512-BF16 (crossrank.export.kernel_rungs);
    every rung (int8_static, int8_token, int8, bf16, fp32) is timed on this machine, and the fastest rung that passes becomes
    default_precision.
    Everything measured goes to report.json (and a summary to crossrank.json under "fidelity"
    and "precision_rungs").

    Args:
        model: a local Hugging Face folder, or a Hub id (loaded through transformers; needs network).
        out_dir: the bundle folder. It is written atomically (built next to it, then renamed); an
            existing bundle there is replaced, any other non-empty folder is refused.
        max_length: longest pair in tokens, capped by the model's position embeddings.
        opset: ONNX opset (None: optimum's choice).
        progress: print a line per step and the fidelity table to stderr.
        activation: overrides what is derived from the labels ("sigmoid" on the only logit for
            one-label models, "softmax" for two-label models).
        score_index: overrides the scored label (label 1 for two-label models).
        notes: appended to the manifest's notes.
        source_name: replaces the recorded source (e.g. for temporary folders).
        verify: check both graphs against PyTorch.
        reduce_range: 7-bit weights for x86 CPUs without VNNI; None decides from this CPU.
        per_channel: per-channel int8 weights (False: one scale per weight tensor).
        fidelity: write the fidelity report and run the quality gate.
        eval_dir: judged data in BEIR layout (corpus.jsonl, queries.jsonl, qrels/test.tsv).
        eval_queries: judged queries of EVAL_DIR to use (None: all).
        eval_depth: BM25 candidates per query of EVAL_DIR.
        gate: True (default thresholds), a crossrank.export.gate.GateThresholds (or a dict of
            its fields), or False (report only, never change the bundle).
        calibration_dir: a BEIR folder whose BM25 pools calibrate static int8 (default: the
            gate's pools).
        calibration_method: "MinMax", "Percentile" or "Entropy" (static int8's activation ranges).

    Returns:
        OUT_DIR as an absolute path.

    Raises:
        FileNotFoundError: no such folder, no tokenizer, EVAL_DIR not a BEIR folder.
        FileExistsError: OUT_DIR is a file, or a non-empty folder that holds no bundle.
        ValueError: not a supported sequence-classification model, or bad options.
        ImportError: the export extra is not installed.
    """
    options = ExportOptions(
        max_length=max_length, opset=opset, progress=progress, activation=activation,
        score_index=score_index, notes=tuple(notes), source_name=source_name, verify=verify,
        reduce_range=reduce_range, per_channel=per_channel, fidelity=fidelity, eval_dir=eval_dir,
        eval_queries=eval_queries, eval_depth=eval_depth, gate=gate, calibration_dir=calibration_dir,
        calibration_method=calibration_method)
    src, is_local = resolve_source(model)
    out = check_replaceable(out_dir, MANIFEST_FILE, "bundle")
    require_export_deps()
    source = describe_source(src, is_local, max_length=max_length, activation=activation,
                             score_index=score_index)
    thresholds = _check_fidelity_options(options)
    with atomic_folder(out, MANIFEST_FILE, "bundle") as folder:
        _write_bundle(folder, source, options, thresholds)
    return out
