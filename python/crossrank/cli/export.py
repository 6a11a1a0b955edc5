"""``crossrank export``: turn a Hugging Face cross-encoder into a verified bundle.

All of the export's command-line arguments live here (also used by scripts/export_model.py through
:func:`crossrank.cli.main`): :func:`add_export_arguments` / :func:`export_kwargs` for the export,
:func:`add_gate_arguments` / :func:`gate_kwargs` for the fidelity report and quality gate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from crossrank._validation import CALIBRATION_METHODS
from crossrank.bundle import REPORT_FILE, read_manifest
from crossrank.cli._types import int_at_least, non_negative_int, number_in, positive_int
from crossrank.export.gate import GateThresholds
from crossrank.export.pipeline import export_bundle

__all__ = ["add_export_arguments", "add_gate_arguments", "add_parser", "export_kwargs", "gate_kwargs"]


def add_export_arguments(parser) -> None:
    """Adds MODEL, --out and the export options to an argparse (sub)parser; turn the parsed
    namespace into export_bundle arguments with :func:`export_kwargs`. Imports nothing heavy."""
    parser.add_argument("model", help="local Hugging Face model folder, or a Hub id")
    parser.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    parser.add_argument("--max-length", type=int_at_least(8), default=512,
                        help="longest pair in tokens (capped by the model's positions; default 512)")
    parser.add_argument("--opset", type=positive_int, default=None, help="ONNX opset (default: optimum's choice)")
    parser.add_argument("--reduce-range", choices=("auto", "on", "off"), default="auto",
                        help="7-bit int8 weights, for x86 CPUs without VNNI (auto: decide from this CPU)")
    parser.add_argument("--per-tensor", action="store_true",
                        help="one int8 scale per weight tensor instead of per output channel")
    add_gate_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress lines or report table")


def export_kwargs(args) -> dict[str, Any]:
    """export_bundle(model, out, **export_kwargs(args)) for arguments from add_export_arguments."""
    return {
        "max_length": args.max_length,
        "opset": args.opset,
        "progress": not args.quiet,
        "reduce_range": {"auto": None, "on": True, "off": False}[args.reduce_range],
        "per_channel": not args.per_tensor,
        **gate_kwargs(args),
    }


def add_gate_arguments(parser) -> None:
    """Adds the fidelity-report / quality-gate arguments to an argparse (sub)parser; read them
    back with :func:`gate_kwargs`."""
    g = parser.add_argument_group("fidelity report and int8 quality gate")
    g.add_argument("--eval", type=Path, default=None, metavar="DIR",
                   help="judged data in BEIR layout (corpus.jsonl, queries.jsonl, qrels/test.tsv): "
                        "also report nDCG@10 of fp32 vs int8, reranking BM25 top-100")
    g.add_argument("--eval-queries", type=non_negative_int, default=50, metavar="N",
                   help="judged queries of --eval to use (default 50; 0 = all)")
    g.add_argument("--eval-depth", type=positive_int, default=100, metavar="K",
                   help="candidates per query for --eval (default 100)")
    g.add_argument("--min-top10-overlap", type=number_in(0, 1), default=GateThresholds.min_top10_overlap,
                   help="gate: lowest mean per-query top-10 overlap of int8 with fp32 (default 0.95)")
    g.add_argument("--max-ndcg-drop", type=number_in(0), default=GateThresholds.max_ndcg_drop_points,
                   help="gate: largest nDCG@10 drop of int8 vs fp32 in points, with --eval (default 0.5)")
    g.add_argument("--no-mixed-precision", action="store_true",
                   help="gate: do not search for a mixed-precision graph when int8 fails")
    g.add_argument("--gate-budget", type=number_in(0), default=GateThresholds.budget_s, metavar="SECONDS",
                   help="gate: time the mixed-precision search may spend (default %(default)s)")
    g.add_argument("--max-fp32-share", type=number_in(0, 1), default=GateThresholds.max_fp32_share, metavar="F",
                   help="gate: most of the weight multiply-adds a mixed graph may keep in fp32 "
                        "(default %(default)s; beyond it the bundle falls back to fp32)")
    g.add_argument("--calibration", type=Path, default=None, metavar="DIR",
                   help="BEIR folder whose BM25 pools calibrate static int8's activation scales "
                        "(default: the gate's pools; in-domain pairs calibrate best)")
    g.add_argument("--calibration-method", choices=CALIBRATION_METHODS, default="MinMax",
                   help="how static int8's activation ranges are taken (default %(default)s, measured best)")
    g.add_argument("--no-fidelity", action="store_true",
                   help="skip the fidelity report, the quality gate and the static int8 rung")


def gate_kwargs(args) -> dict[str, Any]:
    """export_bundle keyword arguments from arguments added by :func:`add_gate_arguments`."""
    return {
        "fidelity": not args.no_fidelity,
        "eval_dir": args.eval,
        "eval_queries": args.eval_queries or None,
        "eval_depth": args.eval_depth,
        "calibration_dir": args.calibration,
        "calibration_method": args.calibration_method,
        "gate": GateThresholds(min_top10_overlap=args.min_top10_overlap,
                               max_ndcg_drop_points=args.max_ndcg_drop,
                               mixed_precision=not args.no_mixed_precision,
                               budget_s=args.gate_budget,
                               max_fp32_share=args.max_fp32_share),
    }


def _print_result(out: Path) -> None:
    """What the export did, from the bundle's manifest."""
    manifest = read_manifest(out)
    check = manifest.get("verification") or {}
    print(f"wrote {out}")
    print(f"  fused: {', '.join(manifest['optimization']['applied']) or 'nothing'}")
    if check:
        print(f"  max |logit difference| vs PyTorch on {check['pairs']} pairs: "
              f"fp32 {check['fp32_max_abs_diff']:.2g}, int8 {check['int8_max_abs_diff']:.2g}")
    gate = (manifest.get("fidelity") or {}).get("gate") or {}
    if gate:
        print(f"  quality gate: {gate['message']}")
        rungs = manifest.get("precision_rungs") or {}
        if rungs:
            print("  precision rungs (speed vs fp32 on this machine): " + ", ".join(
                f"{p} {'passes' if r['passed'] else 'fails'} {r['speedup_vs_fp32'] or 0:.2f}x"
                for p, r in rungs.items()))
        print(f"  default precision: {manifest['default_precision']} (details: {out / REPORT_FILE})")
    for note in manifest.get("notes", []):
        print(f"  note: {note}")


def _export(args: argparse.Namespace) -> int:
    try:
        out = export_bundle(args.model, args.out, **export_kwargs(args))
    except OSError as error:  # e.g. a Hub id while offline
        print(f"crossrank export: error: {error}", file=sys.stderr)
        return 2
    _print_result(out)
    return 0


def add_parser(commands) -> None:
    """Add ``crossrank export`` to an argparse subparsers object."""
    export = commands.add_parser("export", help="turn a Hugging Face cross-encoder into a verified bundle")
    add_export_arguments(export)
    export.set_defaults(run=_export)
