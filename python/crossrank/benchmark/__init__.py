"""``crossrank bench``: latency per pool size, crossrank against the engines users would otherwise pick.

- :mod:`~crossrank.benchmark.engines`: what an engine is; crossrank and the plain onnxruntime loop;
- :mod:`~crossrank.benchmark.peers`: sentence-transformers, FlashRank, FastEmbed (optional);
- :mod:`~crossrank.benchmark.registry`: every engine by name, the groups, ``expand_engines``;
- :mod:`~crossrank.benchmark.flops`: pair lengths and the useful operations they cost;
- :mod:`~crossrank.benchmark.gemm_rate`: the machine's int8 GEMM rate, the ceiling;
- :mod:`~crossrank.benchmark.timing`: the timing loop (``run``) and its rows (``Measurement``);
- :mod:`~crossrank.benchmark.report`: table, speedups, plot, JSON;
- :mod:`~crossrank.benchmark.machine`: the machine report;
- :mod:`~crossrank.benchmark.command`: the command, step by step.
"""

from crossrank.benchmark.engines import Engine, EngineFactory, PaddingFn, ScoreFn, padding_share
from crossrank.benchmark.flops import EncoderShape, encoder_shape, length_summary, pair_lengths
from crossrank.benchmark.gemm_rate import Int8GemmProbe, int8_gemm_gops
from crossrank.benchmark.machine import machine_info
from crossrank.benchmark.registry import ALIASES, ENGINES, expand_engines
from crossrank.benchmark.report import format_table, plot, save_json, speedups
from crossrank.benchmark.timing import Measurement, run

__all__ = ["ALIASES", "ENGINES", "EncoderShape", "Engine", "EngineFactory", "Int8GemmProbe", "Measurement",
           "PaddingFn", "ScoreFn", "encoder_shape", "expand_engines", "format_table", "int8_gemm_gops",
           "length_summary", "machine_info", "pair_lengths", "padding_share", "plot", "run", "save_json",
           "speedups"]
