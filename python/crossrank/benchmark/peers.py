"""Peer engines for ``crossrank bench``: the libraries users would pick instead, same model.

Every factory takes a bundle and a thread count and returns an :class:`~crossrank.benchmark.engines.Engine`
like the engines in :mod:`crossrank.benchmark.engines`: ``score(query, docs)`` scores one pool;
``padding(lengths)`` gives the share of executed tokens that were padding in the last call, worked
out from the pool's pair lengths (in arrival order) and the peer's own batching policy, since peers
do not report it.

Peers are optional (``pip install 'crossrank[bench]'``); their packages are imported lazily. A
factory raises ``ImportError`` when a package is missing, and ``PeerUnavailable`` (or whatever
its library raises) when the model cannot be made to load; the benchmark prints the reason and
goes on.

The PyTorch peers need the Hugging Face folder the bundle was exported from: for the embedded
default model it is rebuilt (``save_seeded_model``); for other bundles it is the source path in
``crossrank.json`` when that folder still exists here. Everything peers write (that folder, the
sentence-transformers int8 export, the FlashRank cache folder) lives under
``$CROSSRANK_HOME/bench-peers/<bundle>-<checksum>`` and is reused by later runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from crossrank.benchmark.engines import Engine, EngineFactory, padding_share
from crossrank.bundle import Bundle
from crossrank.default_model import DEFAULT_SOURCE_NAME, save_seeded_model
from crossrank.home import bench_peers_dir


class PeerUnavailable(RuntimeError):
    """The peer's package is installed but it cannot run this bundle here (the message says why)."""


def peer_cache_dir(bundle: Bundle) -> Path:
    """Where the peers keep what they write for BUNDLE: one folder per bundle name and checksum."""
    checksum = (bundle.manifest.get("checksums_sha256") or {}).get(bundle.model_file("fp32").name, "")
    return bench_peers_dir() / f"{bundle.path.name}-{checksum[:12] or 'unversioned'}"


def hf_folder(bundle: Bundle) -> Path:
    """The Hugging Face folder behind BUNDLE, for the peers that load one.

    Raises:
        PeerUnavailable: when the bundle's source is neither the default model nor a local folder.
    """
    source = str((bundle.manifest.get("source") or {}).get("model", ""))
    if source == DEFAULT_SOURCE_NAME:
        folder = peer_cache_dir(bundle) / "hf"
        if not (folder / "config.json").is_file():
            save_seeded_model(folder)  # needs torch + transformers, as the peer itself does
        return folder
    if source and (Path(source) / "config.json").is_file():
        return Path(source)
    raise PeerUnavailable(f"the bundle's source model {source!r} is not a local Hugging Face folder here")


def _threads_for_torch(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def st_torch_engine(bundle: Bundle, threads: int) -> Engine:
    """sentence-transformers ``CrossEncoder`` on PyTorch fp32, its default batching (32, sorted
    by characters)."""
    from sentence_transformers import CrossEncoder

    _threads_for_torch(threads)
    model = CrossEncoder(str(hf_folder(bundle)), max_length=bundle.max_length, device="cpu",
                         local_files_only=True)
    return _st_score(model)


def st_onnx_int8_engine(bundle: Bundle, threads: int) -> Engine:
    """sentence-transformers ``CrossEncoder`` with backend="onnx" and its own dynamic int8
    export (``export_dynamic_quantized_onnx_model(..., "avx512_vnni")``)."""
    import onnxruntime as ort
    from sentence_transformers import CrossEncoder
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    folder = peer_cache_dir(bundle) / "st-onnx"
    quantized = "onnx/model_qint8_avx512_vnni.onnx"
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if not (folder / quantized).is_file():
        # The export writes into the model folder: work on a copy, never the user's source.
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(hf_folder(bundle), folder)
        fp32 = CrossEncoder(str(folder), backend="onnx", local_files_only=True)
        export_dynamic_quantized_onnx_model(fp32, "avx512_vnni", str(folder))
    model = CrossEncoder(str(folder), max_length=bundle.max_length, backend="onnx", local_files_only=True,
                         model_kwargs={"file_name": quantized, "session_options": options,
                                       "provider": "CPUExecutionProvider"})
    return _st_score(model)


def _st_score(model) -> Engine:
    last: list[tuple[str, str]] = []

    def score(query: str, docs: list[str]) -> object:
        last[:] = [(query, doc) for doc in docs]
        return model.predict(last, batch_size=32, show_progress_bar=False)

    def padding(lengths: list[int]) -> float:
        # predict() sorts pairs by character count, longest first, then batches 32 at a time.
        order = sorted(range(len(last)), key=lambda i: -(len(last[i][0]) + len(last[i][1])))
        return padding_share(lengths, 32, order)

    return Engine(score, padding)


def _plain_onnx_folder(bundle: Bundle, name: str) -> Path:
    """A folder with the bundle's int8 graph and tokenizer plus the small JSON files FlashRank and
    FastEmbed read (pad token, length limit), written from what the bundle knows."""
    folder = peer_cache_dir(bundle) / name
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle.model_file("int8"), folder / "model.onnx")
    shutil.copyfile(bundle.tokenizer_file, folder / "tokenizer.json")
    padding = ((bundle.manifest.get("tokenizer") or {}).get("cleared") or {}).get("padding") or {}
    pad_token, pad_id = padding.get("pad_token", "[PAD]"), padding.get("pad_id", 0)
    files = {"config.json": {"pad_token_id": pad_id},
             "tokenizer_config.json": {"model_max_length": bundle.max_length, "pad_token": pad_token},
             "special_tokens_map.json": {"pad_token": pad_token}}
    for file, content in files.items():
        (folder / file).write_text(json.dumps(content))
    return folder


def flashrank_engine(bundle: Bundle, threads: int) -> Engine:
    """FlashRank's ``Ranker`` on the bundle's int8 graph, placed in its cache folder under a name
    registered in ``flashrank.Config.model_file_map`` (so it loads offline). It scores the whole
    pool as one padded batch."""
    import onnxruntime as ort
    from flashrank import Config, Ranker, RerankRequest

    name = "crossrank-bench"
    cache = peer_cache_dir(bundle) / "flashrank"
    _plain_onnx_folder(bundle, f"flashrank/{name}")
    Config.model_file_map[name] = "model.onnx"
    ranker = Ranker(model_name=name, cache_dir=str(cache), max_length=bundle.max_length, log_level="WARNING")
    # Ranker takes no session options: rebuild its session with the same thread count as the rest.
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    ranker.session = ort.InferenceSession(str(cache / name / "model.onnx"), options,
                                          providers=["CPUExecutionProvider"])

    def score(query: str, docs: list[str]) -> object:
        return ranker.rerank(RerankRequest(query, [{"id": i, "text": d} for i, d in enumerate(docs)]))

    return Engine(score, lambda lengths: padding_share(lengths, max(len(lengths), 1)))


def fastembed_engine(bundle: Bundle, threads: int) -> Engine:
    """FastEmbed's ``TextCrossEncoder`` on the bundle's int8 graph as a custom model
    (``add_custom_model`` + ``specific_model_path``); batches of 64 in arrival order."""
    from fastembed.common.model_description import ModelSource
    from fastembed.rerank.cross_encoder import TextCrossEncoder

    name = "crossrank/bench"
    folder = _plain_onnx_folder(bundle, "fastembed")
    if name not in {m["model"] for m in TextCrossEncoder.list_supported_models()}:
        TextCrossEncoder.add_custom_model(name, sources=ModelSource(hf="crossrank/bench"), model_file="model.onnx")
    model = TextCrossEncoder(name, threads=threads, specific_model_path=str(folder),
                             providers=["CPUExecutionProvider"])

    def score(query: str, docs: list[str]) -> object:
        return list(model.rerank(query, docs, batch_size=64))

    return Engine(score, lambda lengths: padding_share(lengths, 64))


PEERS: dict[str, EngineFactory] = {
    "st-torch": st_torch_engine,
    "st-onnx-int8": st_onnx_int8_engine,
    "flashrank": flashrank_engine,
    "fastembed": fastembed_engine,
}
