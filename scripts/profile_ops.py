"""Where the time goes inside the graph the engine runs: ONNX Runtime's profiler, summed per op.

    python scripts/profile_ops.py BUNDLE [--precision int8|int8_token|...] [--pool 100] [--threads 1] [--standard]

Scores one query against POOL realistic passages through crossrank's engine, one pair per run
(the default policy) on one thread (what each of the engine's concurrent workers does), with
ONNX Runtime's profiler on, then prints the share of kernel time per operator type. The bundle's
engine graph is profiled where it has one (crossrank.export.engine_graph); --standard profiles its
standard graph instead.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import tempfile
from pathlib import Path

from crossrank import Tokenizer, _native, _onnxruntime, workloads
from crossrank._validation import PRECISIONS
from crossrank.bundle import Bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--precision", default="int8", choices=PRECISIONS)
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads for each run")
    parser.add_argument("--profile", default="msmarco", choices=sorted(workloads.PROFILES))
    parser.add_argument("--standard", action="store_true", help="profile the standard graph, not the engine graph")
    args = parser.parse_args()

    bundle = Bundle.load(args.bundle)
    if args.standard:
        bundle = dataclasses.replace(bundle, engine_files={})
    model = bundle.runtime_model_file(args.precision)
    _onnxruntime.ensure_loaded()
    tokenizer = Tokenizer.from_file(bundle.tokenizer_file)
    docs = workloads.passages(args.pool, args.profile)
    with tempfile.TemporaryDirectory() as tmp:
        session = _native.OnnxSession(str(model), args.threads, str(Path(tmp) / "profile"))
        engine = _native.Engine(tokenizer.native, session, bundle.max_length, "only_second", 16384, 1, 64,
                                tokenizer.pad_id, 1)
        engine.score([workloads.query()] * len(docs), docs)
        events = json.loads(Path(session.end_profiling()).read_text())

    per_op: dict[str, float] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    total = sum(per_op.values())
    print(f"{model.name} ({args.precision}), pool {args.pool}, one pair per run, {args.threads} thread(s): "
          f"kernel time {total / 1e3:.0f} ms")
    for op, us in sorted(per_op.items(), key=lambda kv: -kv[1]):
        print(f"  {op:<28} {us / 1e3:9.1f} ms  {us / total:6.1%}")


if __name__ == "__main__":
    main()
