"""The closed-loop load generator of ``crossrank bench-serve``: C clients, each sends a rerank request,
waits for the answer and sends the next, until a request budget or a deadline runs out.

Request bodies are encoded once, before the clock starts (a few queries, each with its own pool), so
a request costs the client one POST of ready bytes and one JSON parse. Every answer whose index is a
multiple of ``check_every`` is checked against the offline scores of its body (``Reranker.score_pairs``
on the same pairs): the indices must be a permutation of the pool and, when a tolerance is given, every
score within it; a failed check counts as an error (``mismatch``). The client's own CPU time is
reported with each run, so a client that became the bottleneck shows (it would near 100 % of a core).
A 429 or 503 counts as an error and its client waits ``Retry-After`` (at most 5 s) before going on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

COHERE, TEI, INFINITY = "cohere", "tei", "infinity"
KINDS = (COHERE, TEI, INFINITY)
ROUTES = {COHERE: "/v1/rerank", TEI: "/rerank", INFINITY: "/rerank"}
HTTP_TIMEOUT_S = 300.0
MAX_BACKOFF_S = 5.0


@dataclass(frozen=True)
class Body:
    """One ready request: its JSON bytes and the offline scores its answer must match."""

    content: bytes
    expected: np.ndarray


def encode_body(kind: str, query: str, docs: list[str], model: str = "crossrank") -> bytes:
    """The JSON request of KIND (``cohere``, ``tei`` or ``infinity``) for QUERY and DOCS, scores only."""
    if kind == TEI:
        payload = {"query": query, "texts": docs, "raw_scores": False, "return_text": False}
    else:
        payload = {"model": model, "query": query, "documents": docs, "return_documents": False}
    return json.dumps(payload).encode()


def answer_scores(kind: str, answer: object, size: int) -> np.ndarray:
    """Scores in document order from an answer of KIND; ``ValueError`` if it is not a full ranking."""
    items = answer if kind == TEI else (answer or {}).get("results") if isinstance(answer, dict) else None
    if not isinstance(items, list) or len(items) != size:
        raise ValueError(f"expected {size} results, got {type(items).__name__}")
    key = "score" if kind == TEI else "relevance_score"
    scores = np.full(size, np.nan)
    for item in items:
        scores[int(item["index"])] = float(item[key])
    if np.isnan(scores).any():
        raise ValueError("the results' indices are not a permutation of the documents")
    return scores


@dataclass
class LoadResult:
    """One closed-loop run: per-request latencies (successful ones), pairs scored and errors by kind."""

    concurrency: int
    pool: int
    latencies_ms: list[float] = field(default_factory=list)
    pairs: int = 0
    errors: Counter = field(default_factory=Counter)
    checked: int = 0
    max_abs_diff: float = 0.0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0

    def summary(self) -> dict:
        """JSON-ready totals: requests, errors, pairs/s, p50/p95/p99 ms, answers checked, client CPU."""
        lat = np.asarray(self.latencies_ms)
        pct = {f"p{p}_ms": (round(float(np.percentile(lat, p)), 1) if lat.size else None) for p in (50, 95, 99)}
        return {"concurrency": self.concurrency, "pool": self.pool, "requests": len(self.latencies_ms),
                "errors": sum(self.errors.values()), "error_kinds": dict(self.errors),
                "pairs_per_s": round(self.pairs / self.wall_s, 1) if self.wall_s else 0.0, **pct,
                "checked": self.checked, "max_abs_diff": float(f"{self.max_abs_diff:.3g}"),
                "wall_s": round(self.wall_s, 2), "client_cpu_share": round(self.client_cpu_s / self.wall_s, 3)
                if self.wall_s else 0.0}


@dataclass
class Target:
    """A server to load: base URL, request kind, model name and the tolerance its scores must meet."""

    name: str
    url: str
    kind: str
    model: str = "crossrank"
    tolerance: float | None = None
    headers: dict = field(default_factory=dict)


class _Budget:
    """Hands out request numbers until COUNT are taken or the deadline passes (or ``stop()``)."""

    def __init__(self, count: int | None, seconds: float | None) -> None:
        self.left, self.taken, self.stopped = count, 0, False
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def take(self) -> int | None:
        if self.stopped or self.left == 0 or (self.deadline is not None and time.monotonic() >= self.deadline):
            return None
        if self.left is not None:
            self.left -= 1
        self.taken += 1
        return self.taken - 1

    def stop(self) -> None:
        self.stopped = True


async def _post(client, target: Target, body: Body, result: LoadResult, number: int, check_every: int) -> None:
    """One request: time it, count its pairs or its error, check its scores every CHECK_EVERY-th time."""
    import httpx

    start = time.perf_counter()
    try:
        response = await client.post(ROUTES[target.kind], content=body.content, headers=target.headers)
    except httpx.HTTPError as error:
        result.errors[type(error).__name__] += 1
        return
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    if response.status_code != 200:
        result.errors[f"http {response.status_code}"] += 1
        if response.status_code in (429, 503):  # overloaded: back off as told instead of spinning
            await asyncio.sleep(_retry_after(response.headers.get("retry-after")))
        return
    if number % check_every == 0 and not _check(target, response, body, result):
        return
    result.latencies_ms.append(elapsed_ms)
    result.pairs += len(body.expected)


def _retry_after(header: str | None) -> float:
    """Seconds to wait from a Retry-After header (seconds form), 1 s without one, at most MAX_BACKOFF_S."""
    try:
        return min(max(float(header), 0.0), MAX_BACKOFF_S) if header else 1.0
    except ValueError:
        return 1.0


def _check(target: Target, response, body: Body, result: LoadResult) -> bool:
    """Compare an answer with the offline scores; False (and an error counted) if it does not match."""
    try:
        scores = answer_scores(target.kind, response.json(), len(body.expected))
    except (ValueError, KeyError, TypeError) as error:
        result.errors[f"malformed: {error}"] += 1
        return False
    diff = float(np.max(np.abs(scores - body.expected)))
    result.checked += 1
    result.max_abs_diff = max(result.max_abs_diff, diff)
    if target.tolerance is not None and diff > target.tolerance:
        result.errors["mismatch"] += 1
        return False
    return True


async def _client_loop(client, target: Target, bodies: list[Body], budget: _Budget, result: LoadResult,
                       check_every: int) -> None:
    while (number := budget.take()) is not None:
        await _post(client, target, bodies[number % len(bodies)], result, number, check_every)


def _http_client(target: Target, concurrency: int):
    import httpx

    limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
    return httpx.AsyncClient(base_url=target.url, limits=limits, timeout=HTTP_TIMEOUT_S,
                             headers={"content-type": "application/json"})


async def _closed_loop(target: Target, bodies: list[Body], concurrency: int, budget: _Budget,
                       check_every: int, client=None) -> LoadResult:
    result = LoadResult(concurrency, len(bodies[0].expected))
    own = client is None
    client = client or _http_client(target, concurrency)
    cpu, start = time.process_time(), time.perf_counter()
    try:
        await asyncio.gather(*(_client_loop(client, target, bodies, budget, result, check_every)
                               for _ in range(concurrency)))
    finally:
        if own:
            await client.aclose()
    result.wall_s = time.perf_counter() - start
    result.client_cpu_s = time.process_time() - cpu
    return result


def closed_loop(target: Target, bodies: list[Body], concurrency: int, *, requests: int, seconds: float,
                warmup: int = 0, check_every: int = 1) -> LoadResult:
    """Run CONCURRENCY closed-loop clients against TARGET until REQUESTS are sent or SECONDS pass.

    Args:
        target: the server.
        bodies: ready requests, sent in turn (all of one pool size).
        concurrency: clients at once.
        requests: the most requests to send (timed ones; WARMUP more go first, untimed).
        seconds: no new request starts after this long (those in flight finish).
        warmup: untimed requests sent first, at up to CONCURRENCY at once.
        check_every: check every N-th answer against the offline scores (1: all).

    Returns:
        The run's :class:`LoadResult`.
    """
    async def main() -> LoadResult:
        async with _http_client(target, concurrency) as client:
            if warmup:
                await _closed_loop(target, bodies, min(concurrency, warmup), _Budget(warmup, seconds), 1, client)
            return await _closed_loop(target, bodies, concurrency, _Budget(requests, seconds), check_every, client)

    return asyncio.run(main())


def mixed_load(target: Target, small: list[Body], large: list[Body], concurrency: int, *, requests: int,
               seconds: float, check_every: int = 1) -> tuple[LoadResult, LoadResult]:
    """Fairness: one client sends REQUESTS small-pool requests while CONCURRENCY clients keep sending
    large-pool ones (started first, stopped when the small client is done or SECONDS pass).

    Returns:
        (the small requests' result, the large requests' result).
    """
    async def main() -> tuple[LoadResult, LoadResult]:
        background = _Budget(None, seconds)
        load = asyncio.create_task(_closed_loop(target, large, concurrency, background, check_every))
        await asyncio.sleep(min(1.0, seconds / 10))  # let the queue fill before the first small request
        probe = await _closed_loop(target, small, 1, _Budget(requests, seconds), check_every)
        background.stop()
        return probe, await load

    return asyncio.run(main())
