#!/usr/bin/env python3
"""Check the package's structure: no import cycle, crossrank's own imports at the top of each file,
no file over the size limit. Run by tests/test_structure.py (so by CI); run it by hand for a report.

    python scripts/check_structure.py [--report] [ROOT]

ROOT is the repository (default: this script's). Exit status 1 when a rule is broken; every broken
rule is printed. ``--report`` also prints the import graph's depth and longest chain, the largest
files and the longest functions (the figures a restructuring is judged by).

Rules:
- **No import cycle** among crossrank's modules, counting every import (also those in functions).
  ``from pkg import Name`` counts as an import of the module that defines Name when pkg's
  ``__init__`` re-exports it; a cycle that closes only through a package ``__init__`` is allowed.
- **Own imports at the top**: an ``import crossrank...`` inside a function or class hides a
  dependency; only heavy third-party imports (torch, onnx, ...) may be deferred.
- **Files of at most MAX_LINES lines** in ``python/crossrank`` and ``csrc``, generated tables excepted.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

MAX_LINES = 400
# Written by scripts/generate_unicode_tables.py, generate_bpe_tables.py, generate_grapheme_tables.py.
GENERATED = ("unicode_tables", "bpe_tables", "grapheme_tables")
EXTENSIONS = {"crossrank._native"}  # compiled modules: leaves of the graph


def module_files(root: Path) -> dict[str, Path]:
    """``{dotted module name: file}`` for every module of the crossrank package under ROOT/python."""
    base = root / "python"
    out = {}
    for path in sorted((base / "crossrank").rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _targets(module: str, node: ast.Import | ast.ImportFrom, modules: dict[str, Path],
             reexports: dict[tuple[str, str], str]) -> set[str]:
    """The crossrank modules an import statement of MODULE loads (resolved to defining modules)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in modules}
    package = module if modules[module].name == "__init__.py" else module.rpartition(".")[0]
    base = node.module or ""
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
    out = set()
    for alias in node.names:
        full = f"{base}.{alias.name}"
        if full in EXTENSIONS:
            continue
        if full in modules:
            out.add(full)
        elif (base, alias.name) in reexports:
            out.add(reexports[(base, alias.name)])
        elif base in modules:
            out.add(base)
    return out


def _reexports(modules: dict[str, Path]) -> dict[tuple[str, str], str]:
    """``{(package, name): module defining name}`` for the names each package ``__init__`` imports."""
    out = {}
    for name, path in modules.items():
        if path.name != "__init__.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("crossrank"):
                for alias in node.names:
                    if node.module in modules and node.module != name:
                        out[(name, alias.asname or alias.name)] = node.module
    return out


def import_graph(modules: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """(edges, deferred): every module's crossrank imports, and the imports found inside functions."""
    reexports = _reexports(modules)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    deferred = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body}
        top |= {id(n) for stmt in tree.body if isinstance(stmt, (ast.If, ast.Try))  # TYPE_CHECKING, try/except
                for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = _targets(module, node, modules, reexports) - {module}
            graph[module] |= targets
            if targets and id(node) not in top:
                deferred.append(f"{path.relative_to(path.parents[len(module.split('.'))])}:{node.lineno} "
                                f"imports {', '.join(sorted(targets))} inside a function")
    return graph, deferred


def cycles(graph: dict[str, set[str]], modules: dict[str, Path]) -> list[list[str]]:
    """Strongly connected groups of more than one non-``__init__`` module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len([m for m in group if modules[m].name != "__init__.py"]) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest import chain (a path of modules, each importing the next), cycles ignored."""
    best: dict[str, list[str]] = {}

    def chain(v: str, seen: frozenset[str]) -> list[str]:
        if v in best:
            return best[v]
        tails = [chain(w, seen | {v}) for w in sorted(graph[v]) if w not in seen]
        result = [v] + max(tails, key=len, default=[])
        best[v] = result
        return result

    return max((chain(v, frozenset()) for v in sorted(graph)), key=len, default=[])


def long_files(root: Path) -> list[tuple[int, str]]:
    """(lines, path) of the package's Python and C++ files, largest first, generated tables excepted."""
    files = list((root / "python" / "crossrank").rglob("*.py"))
    files += [p for p in (root / "csrc").rglob("*") if p.suffix in (".cc", ".h")]
    sizes = [(len(p.read_text(encoding="utf-8").splitlines()), str(p.relative_to(root))) for p in files
             if not any(g in p.name for g in GENERATED)]
    return sorted(sizes, reverse=True)


def long_functions(modules: dict[str, Path], count: int = 8) -> list[tuple[int, str]]:
    """(lines, module:function) of the longest functions and methods."""
    out = []
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((node.end_lineno - node.lineno + 1, f"{module}:{node.name}"))
    return sorted(out, reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--report", action="store_true", help="also print depth, sizes and long functions")
    args = parser.parse_args(argv)
    modules = module_files(args.root)
    graph, deferred = import_graph(modules)
    problems = [f"import cycle among: {', '.join(group)}" for group in cycles(graph, modules)]
    problems += [f"deferred crossrank import: {line}" for line in deferred]
    problems += [f"{path} has {lines} lines (limit {MAX_LINES})" for lines, path in long_files(args.root)
                 if lines > MAX_LINES]
    if args.report:
        chain = longest_chain(graph)
        print(f"{len(modules)} modules, {sum(map(len, graph.values()))} import edges; "
              f"import graph depth {len(chain) - 1}: {' -> '.join(chain)}")
        print("largest files: " + ", ".join(f"{path} ({lines})" for lines, path in long_files(args.root)[:8]))
        print("longest functions: " + ", ".join(f"{name} ({lines})" for lines, name in long_functions(modules)))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
