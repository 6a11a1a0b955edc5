"""Where the time goes inside one graph: ONNX Runtime's profiler, summed per operator type.

    python scripts/profile_ops.py BUNDLE [--precision int8] [--pool 100] [--threads N]

Scores one query against POOL realistic passages one pair per run, as the engine does by default,
with the engine's session settings, through the
onnxruntime Python API with its profiler on, then prints the share of kernel time per op.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

from crossrank import Tokenizer, _native, workloads
from crossrank._system import physical_core_count
from crossrank.bundle import Bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--precision", default="int8", choices=["int8", "fp32"])
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--threads", type=int, default=physical_core_count())
    parser.add_argument("--profile", default="msmarco", choices=sorted(workloads.PROFILES))
    args = parser.parse_args()

    bundle = Bundle.load(args.bundle)
    tokenizer = Tokenizer.from_file(bundle.tokenizer_file)
    pairs = [(workloads.query(), doc) for doc in workloads.passages(args.pool, args.profile)]
    encodings = tokenizer.encode_pairs(pairs, max_length=bundle.max_length)
    plan = _native.plan_batches([len(e.ids) for e in encodings], 16384, 1, 64)  # one pair per run

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        # The fusions the engine turns off at load (csrc/core/onnx_session.h).
        options.add_session_config_entry("optimization.disable_specified_optimizers", _native.DISABLED_OPTIMIZERS)
        session = ort.InferenceSession(str(bundle.model_file(args.precision)), options,
                                       providers=["CPUExecutionProvider"])
        names = {i.name for i in session.get_inputs()}
        for indices, width in plan:
            feed = {k: np.zeros((len(indices), width), dtype=np.int64)
                    for k in ("input_ids", "attention_mask", "token_type_ids") if k in names}
            for row, i in enumerate(indices):
                n = len(encodings[i].ids)
                feed["input_ids"][row, :n] = encodings[i].ids
                feed["attention_mask"][row, :n] = 1
                if "token_type_ids" in feed:
                    feed["token_type_ids"][row, :n] = encodings[i].type_ids
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())

    per_op: dict[str, float] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    total = sum(per_op.values())
    real = sum(len(e.ids) for e in encodings)
    padded = sum(len(i) * w for i, w in plan)
    print(f"{args.precision}, pool {args.pool}, {len(plan)} batches, {real} tokens "
          f"({1 - real / padded:.1%} padding), kernel time {total / 1e3:.0f} ms, threads {args.threads}")
    for op, us in sorted(per_op.items(), key=lambda kv: -kv[1]):
        print(f"  {op:<28} {us / 1e3:9.1f} ms  {us / total:6.1%}")


if __name__ == "__main__":
    main()
