"""``crossrank export``: turn a Hugging Face cross-encoder into a verified bundle."""

from __future__ import annotations

import argparse
import sys


def _export(args: argparse.Namespace) -> int:
    import json

    from crossrank.export import export_bundle, export_kwargs

    try:
        out = export_bundle(args.model, args.out, **export_kwargs(args))
    except OSError as error:  # e.g. a Hub id while offline
        print(f"crossrank export: error: {error}", file=sys.stderr)
        return 2
    manifest = json.loads((out / "crossrank.json").read_text(encoding="utf-8"))
    check = manifest.get("verification") or {}
    print(f"wrote {out}")
    print(f"  fused: {', '.join(manifest['optimization']['applied']) or 'nothing'}")
    if check:
        print(f"  max |logit difference| vs PyTorch on {check['pairs']} pairs: "
              f"fp32 {check['fp32_max_abs_diff']:.2g}, int8 {check['int8_max_abs_diff']:.2g}")
    gate = (manifest.get("fidelity") or {}).get("gate") or {}
    if gate:
        print(f"  quality gate: {gate['message']}")
        print(f"  default precision: {manifest['default_precision']} (details: {out / 'report.json'})")
    for note in manifest.get("notes", []):
        print(f"  note: {note}")
    return 0


def add_parser(commands) -> None:
    """Add ``crossrank export`` to an argparse subparsers object."""
    from crossrank.export import add_export_arguments

    export = commands.add_parser("export", help="turn a Hugging Face cross-encoder into a verified bundle")
    add_export_arguments(export)
    export.set_defaults(run=_export)
