"""The batch planner: every pair exactly once, longest first, within the token budget."""

from hypothesis import given, settings
from hypothesis import strategies as st

from crossrank import _native


@settings(max_examples=300, deadline=None)
@given(lengths=st.lists(st.integers(min_value=1, max_value=600), max_size=400),
       budget=st.integers(min_value=1, max_value=20000), max_batch=st.integers(min_value=1, max_value=200),
       overhead=st.integers(min_value=0, max_value=5000))
def test_plan_covers_every_pair_once_within_limits(lengths, budget, max_batch, overhead):
    plan = _native.testing.plan_batches(lengths, budget, max_batch, overhead)
    seen = sorted(i for indices, _ in plan for i in indices)
    assert seen == list(range(len(lengths)))
    for indices, padded in plan:
        assert 1 <= len(indices) <= max_batch
        assert padded == max(lengths[i] for i in indices) == lengths[indices[0]]
        # A lone sequence may exceed the budget; a batch of several never does.
        assert len(indices) == 1 or len(indices) * padded <= budget


def test_plan_sorts_by_length_so_padding_stays_small():
    lengths = [10, 500, 12, 480, 11, 490]
    plan = _native.testing.plan_batches(lengths, 1500, 3)
    assert [sorted(indices) for indices, _ in plan] == [[1, 3, 5], [0, 2, 4]]
    padded = sum(len(indices) * width for indices, width in plan)
    assert 1 - sum(lengths) / padded < 0.05


def test_plan_trades_padding_against_batch_count():
    lengths = [100, 90, 80, 70]
    # Batches are free: every distinct length gets its own batch, no padding at all.
    assert len(_native.testing.plan_batches(lengths, 10**6, 100, 0)) == 4
    # Batches are dear: one batch, padding accepted.
    assert _native.testing.plan_batches(lengths, 10**6, 100, 10**6) == [([0, 1, 2, 3], 100)]


def test_plan_is_deterministic_on_ties():
    assert _native.testing.plan_batches([5, 5, 5, 5], 10, 10) == [([0, 1], 5), ([2, 3], 5)]
