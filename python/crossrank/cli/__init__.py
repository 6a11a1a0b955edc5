"""The ``crossrank`` command line. This module only dispatches: one module per command
(``bench``, ``export``, ``evaluate``, ``serve``, ``bench-serve``, ``score``) adds its arguments and runs it; errors a user can
fix are printed in one place, here, as ``crossrank COMMAND: error: ...`` with exit status 2."""

from __future__ import annotations

import argparse
import sys

from crossrank.cli import bench, bench_serve, evaluate, export, score, serve

COMMANDS = (bench, export, evaluate, serve, bench_serve, score)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming the argument (no usage block), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    """Run ``crossrank`` with ARGV (default: the process arguments); returns the exit status."""
    parser = OneLineParser(prog="crossrank", description="Fast cross-encoder reranking on CPU.")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError, ImportError) as error:  # OSError: missing, unreadable, unwritable files
        print(f"crossrank {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
