#!/usr/bin/env python3
"""Export a Hugging Face cross-encoder to a crossrank bundle: the same as `crossrank export`.

    python scripts/export_model.py MODEL --out DIR [--max-length N] [--eval BEIR_DIR] ...

MODEL is a local Hugging Face folder or a Hub id. Needs: pip install 'crossrank[export]'.
`python scripts/export_model.py --help` lists every option.
"""

import sys

from crossrank.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
