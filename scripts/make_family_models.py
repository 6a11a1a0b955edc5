#!/usr/bin/env python3
"""Build random-weight cross-encoders of each family with the shapes of the real rerankers, for the
benchmark (no Hub needed), and optionally export them:

    python scripts/make_family_models.py OUT_DIR [--models bge-reranker-base,mminilm] [--export]

Writes OUT_DIR/<name>/ as Hugging Face folders (config.json, model.safetensors, tokenizer files):
bge-reranker-base (XLM-R base, 278M parameters), mminilm (mMiniLMv2-L12-H384),
gte-reranker-modernbert-base, electra-base (the default: all four). With --export, each is also
exported to OUT_DIR/<name>.bundle (`crossrank export`, fidelity report on, gate report-only). The builders, shapes and
tokenizers are those of the tests (tests/export/family_models.py, family_tokenizers.py): XLM-R models
get a Unigram tokenizer trained here with sentencepiece, ModernBERT a byte-level BPE, ELECTRA the
uncased WordPiece of the embedded MiniLM. Their vocabularies are small (2,000 pieces), so a text
splits into more tokens than with the real 250k-piece one; --tokenizer-json takes a real XLM-R
tokenizer.json for the XLM-R models instead.

The scores are random (weights drawn as transformers initializes them): use these models for speed,
never for quality. Needs: pip install 'crossrank[test]' (the export extra plus sentencepiece).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "export"))

from family_models import FULL_SIZE, SHAPES, make_family_model  # noqa: E402

from crossrank.default_model import minilm_encoder_dir  # noqa: E402
from crossrank.export.pipeline import export_bundle  # noqa: E402


def _models(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SHAPES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected names from {sorted(SHAPES)}, got {text!r}")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="folder for the model folders (created)")
    parser.add_argument("--models", type=_models, default=list(FULL_SIZE),
                        help=f"comma-separated names (default: {','.join(FULL_SIZE)})")
    parser.add_argument("--export", action="store_true", help="also export each to OUT_DIR/<name>.bundle")
    parser.add_argument("--tokenizer-json", type=Path, default=None,
                        help="a real XLM-R tokenizer.json to put in the XLM-R models' folders instead")
    return parser


def build(name: str, out_dir: Path, tokenizer_json: Path | None) -> Path:
    """Build model NAME into OUT_DIR/NAME; returns the folder."""
    t0 = time.perf_counter()
    folder = make_family_model(name, out_dir / name, wordpiece_dir=minilm_encoder_dir())
    if tokenizer_json is not None and SHAPES[name]["family"] == "xlm-roberta":
        shutil.copyfile(tokenizer_json, folder / "tokenizer.json")
    print(f"{name}: {folder} ({time.perf_counter() - t0:.1f} s)", flush=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.tokenizer_json is not None and not args.tokenizer_json.is_file():
        print(f"make_family_models: --tokenizer-json {args.tokenizer_json} is not a file", file=sys.stderr)
        return 2
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        folder = build(name, args.out_dir, args.tokenizer_json)
        if args.export:
            # Random weights: the fidelity report is kept, the gate only reports (nothing to protect).
            export_bundle(folder, args.out_dir / f"{name}.bundle", source_name=name, gate=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
