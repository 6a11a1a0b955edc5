#!/usr/bin/env python3
"""Export a Hugging Face sequence-classification model to a crossrank bundle.

    python scripts/export_model.py MODEL --out DIR [--max-length N] [--opset N]

MODEL is a local Hugging Face folder (or a Hub id, which needs network access).
Needs the export extra: pip install 'crossrank[export]'.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _load_export_bundle():
    """crossrank.export, also from a source checkout whose native engine is not built: exporting
    needs only the pure-Python module (and the [export] extra)."""
    import importlib.machinery
    import types

    checkout = Path(__file__).resolve().parents[1] / "python"
    for attempt in range(2):
        try:
            from crossrank.export import export_bundle

            return export_bundle
        except ImportError:
            if attempt == 0 and str(checkout) not in sys.path:
                sys.path.insert(0, str(checkout))  # not installed: use the checkout
    # The package's __init__ (the engine) does not import; load the export module without it.
    pkg = types.ModuleType("crossrank")
    pkg.__path__ = [str(checkout / "crossrank")]
    pkg.__spec__ = importlib.machinery.ModuleSpec("crossrank", None, is_package=True)
    pkg.__spec__.submodule_search_locations = pkg.__path__
    sys.modules["crossrank"] = pkg
    from crossrank.export import export_bundle

    return export_bundle


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="local Hugging Face model folder, or a Hub id")
    ap.add_argument("--out", required=True, type=Path, help="bundle folder to write")
    ap.add_argument("--max-length", type=int, default=512,
                    help="longest pair in tokens (capped by the model's positions; default 512)")
    ap.add_argument("--opset", type=int, default=None, help="ONNX opset (default: optimum's choice)")
    ap.add_argument("--reduce-range", choices=("auto", "on", "off"), default="auto",
                    help="7-bit int8 weights, for x86 CPUs without VNNI (auto: decide from this CPU)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)
    export_bundle = _load_export_bundle()
    try:
        out = export_bundle(args.model, args.out, max_length=args.max_length, opset=args.opset,
                            progress=not args.quiet,
                            reduce_range={"auto": None, "on": True, "off": False}[args.reduce_range])
    except (OSError, ValueError, ImportError) as e:  # missing folder / tokenizer, not a classifier, offline Hub
        print(f"error: {e}", file=sys.stderr)
        return 2
    manifest = json.loads((out / "crossrank.json").read_text(encoding="utf-8"))
    ver = manifest.get("verification") or {}
    print(f"wrote {out}")
    print(f"  fused: {', '.join(manifest['optimization']['applied']) or 'nothing'}")
    if ver:
        print(f"  max |logit difference| vs PyTorch on {ver['pairs']} pairs: "
              f"fp32 {ver['fp32_max_abs_diff']:.2g}, int8 {ver['int8_max_abs_diff']:.2g}")
    for note in manifest.get("notes", []):
        print(f"  note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
