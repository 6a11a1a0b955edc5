"""Write crossrank bundles from Hugging Face sequence-classification models.

A bundle is a folder the engine reads (its format: :mod:`crossrank.bundle`)::

    model.onnx        fp32 graph, fused by ONNX Runtime's transformer optimizer
    model.int8.onnx   dynamic int8 quantization of the fused graph (per-channel, U8S8; some
                      operators left in fp32 when the quality gate chose mixed precision)
    tokenizer.json    the model's tokenizer (truncation / padding settings cleared)
    crossrank.json    manifest: the model family, labels, activation, max_length, provenance, measurements
    report.json       fidelity report: int8 vs fp32 agreement of every int8 variant tried, the
                      quality gate's decision (crossrank.export.fidelity, crossrank.export.gate)

The modules, in the order an export runs them:

- :mod:`~crossrank.export.pipeline`: :func:`export_bundle`, a short sequence of timed steps;
- :mod:`~crossrank.export.source`: the source model (folder or Hub id, config checks, labels,
  max_length, tokenizer.json), its family from :mod:`~crossrank.export.families` (XLM-RoBERTa,
  ModernBERT, ELECTRA, BERT; the error for decoder rerankers and other types);
- :mod:`~crossrank.export.onnx_steps`: optimum's export, ONNX Runtime's fusions, dynamic int8,
  operator counts (shared with the bi-encoder export and the gate);
- :mod:`~crossrank.export.verify`: both graphs against PyTorch, the engine graphs against the
  standard ones (:mod:`~crossrank.export.engine_graph` writes them);
- :mod:`~crossrank.export.report`, :mod:`~crossrank.export.fidelity`
  (metrics in :mod:`crossrank.metrics`), :mod:`~crossrank.export.gate`,
  :mod:`~crossrank.export.op_groups`: the fidelity report and the int8 quality gate (scored through
  :mod:`~crossrank.export.onnx_scorer` where the engine does not read the tokenizer yet);
- :mod:`~crossrank.export.encoder`: the bi-encoder export behind DenseRetriever.

The export path needs the ``[export]`` extra (torch, transformers, optimum-onnx); they are
imported lazily inside the functions, so ``import crossrank`` never imports torch.
"""

from crossrank.bundle import FORMAT_VERSION, FP32_FILE, INT8_FILE, MANIFEST_FILE, REPORT_FILE, TOKENIZER_FILE
from crossrank.export.encoder import export_encoder
from crossrank.export.pipeline import ExportOptions, export_bundle
from crossrank.export.source import EXPORT_INSTALL_HINT
from crossrank.export.source import effective_max_length as _effective_max_length  # noqa: F401 (tests)
from crossrank.export.source import score_and_activation as _score_and_activation  # noqa: F401 (tests)
from crossrank.export.verify import VERIFICATION_PAIRS

__all__ = [
    "EXPORT_INSTALL_HINT",
    "FORMAT_VERSION",
    "FP32_FILE",
    "INT8_FILE",
    "MANIFEST_FILE",
    "REPORT_FILE",
    "TOKENIZER_FILE",
    "VERIFICATION_PAIRS",
    "ExportOptions",
    "export_bundle",
    "export_encoder",
]
