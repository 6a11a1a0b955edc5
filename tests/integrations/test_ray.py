"""crossrank on Ray, on a local 2-CPU cluster started here: map_batches equals score_pairs row for row,
a killed worker loses no row, a bad row is named, and ``crossrank score --ray`` scores in order."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from crossrank.batch.runner import ScoreFileJob, score_file  # noqa: E402
from crossrank.integrations.ray import Scorer, ray_chunk_scorer  # noqa: E402
from crossrank.reranker import Reranker  # noqa: E402

WORDS = "cross encoders read the query and the passage together to rank search results well".split()


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    yield
    ray.shutdown()


def pairs(count: int, seed: int = 0) -> dict[str, list]:
    rng = random.Random(seed)
    queries = [" ".join(rng.choices(WORDS, k=3)) for _ in range(count // 50 + 1)]
    return {"row": list(range(count)), "query": [queries[i // 50] for i in range(count)],
            "document": [" ".join(rng.choices(WORDS, k=rng.randint(1, 12))) for _ in range(count)]}


def test_map_batches_equals_score_pairs_row_for_row(cluster, tiny_bundle):
    data = pairs(100_000)
    ds = ray.data.from_items([dict(zip(data, values)) for values in zip(*data.values())])
    scored = ds.map_batches(Scorer, fn_constructor_kwargs={"bundle": str(tiny_bundle), "threads": 1},
                            compute=ray.data.ActorPoolStrategy(size=2), batch_size=4096, num_cpus=1).to_pandas()
    assert scored["row"].tolist() == data["row"]
    expected = Reranker(tiny_bundle, threads=2).score_pairs(list(zip(data["query"], data["document"])),
                                                             show_progress=False)
    np.testing.assert_array_equal(scored["score"].to_numpy(), expected)


def killed_once_scorer(marker: str):
    """A Scorer whose process dies the first time any worker scores a batch (a crash, an OOM kill)."""

    class KilledOnce(Scorer):
        def __call__(self, batch):
            if not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)
            return super().__call__(batch)

    return KilledOnce


def test_a_killed_worker_still_yields_every_row_once(cluster, tiny_bundle, tmp_path):
    data = pairs(5_000, seed=1)
    ds = ray.data.from_items([dict(zip(data, values)) for values in zip(*data.values())])
    marker = str(tmp_path / "killed")
    scored = ds.map_batches(killed_once_scorer(marker), fn_constructor_kwargs={"bundle": str(tiny_bundle)},
                            compute=ray.data.ActorPoolStrategy(size=2), batch_size=500, num_cpus=1,
                            max_restarts=2, max_task_retries=2).to_pandas()
    assert os.path.exists(marker)  # a worker did die
    assert scored["row"].tolist() == data["row"]  # every row once, in order
    expected = Reranker(tiny_bundle, threads=2).score_pairs(list(zip(data["query"], data["document"])),
                                                             show_progress=False)
    np.testing.assert_array_equal(scored["score"].to_numpy(), expected)


def test_a_bad_row_is_named(cluster, tiny_bundle):
    rows = [{"query": "q", "document": "d", "doc_id": i} for i in range(20)]
    rows[13]["document"] = None
    ds = ray.data.from_items(rows).map_batches(Scorer, fn_constructor_kwargs={"bundle": str(tiny_bundle)},
                                              compute=ray.data.ActorPoolStrategy(size=1), batch_size=20, num_cpus=1)
    with pytest.raises(Exception, match=r"batch row 13 \(doc_id=.*13.*\): document is None"):
        ds.take_all()


def test_scorer_takes_pandas_and_arrow_batches(tiny_bundle):
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    data = pairs(40, seed=2)
    scorer = Scorer(tiny_bundle, threads=1)
    expected = scorer.score(data["query"], data["document"])
    np.testing.assert_array_equal(scorer(pd.DataFrame(data))["score"].to_numpy(), expected)
    np.testing.assert_array_equal(scorer(pa.table(data)).column("score").to_numpy(), expected)
    with pytest.raises(ValueError, match="no column 'document'"):
        scorer({"query": np.array(["q"])})


def test_score_command_on_ray_actors_keeps_order(cluster, tiny_bundle, tmp_path):
    import json

    data = pairs(3_000, seed=3)
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps(dict(zip(data, v))) + "\n" for v in zip(*data.values())), encoding="utf-8")
    job = ScoreFileJob(source, tmp_path / "scored.jsonl", "jsonl", "jsonl", chunk_rows=1000)
    score_file(job, ray_chunk_scorer(tiny_bundle, workers=2, threads=1, batch_rows=256), progress=False)
    got = [json.loads(line) for line in job.out.read_text(encoding="utf-8").splitlines()]
    assert [r["row"] for r in got] == data["row"]
    expected = Reranker(tiny_bundle, threads=2).score_pairs(list(zip(data["query"], data["document"])),
                                                             show_progress=False)
    np.testing.assert_array_equal(np.array([r["score"] for r in got], dtype=np.float32), expected)
