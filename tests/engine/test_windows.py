import numpy as np
import pytest

from harness.engine.windows import flat_windows, rank_slice, sliding_windows


@pytest.mark.parametrize("T", [1, 7, 64, 65, 1000, 1024, 1087])
@pytest.mark.parametrize("L,s", [(64, 64), (64, 16), (64, 1), (64, 24), (50, 7), (16, 15)])
def test_sliding_scores_every_target_exactly_once(T, L, s):
    plan = sliding_windows(T, L, s)
    assert np.array_equal(plan.coverage(T), np.ones(T, dtype=np.int64))
    assert (plan.lengths <= L).all() and (plan.score_from < plan.lengths).all()
    # every later window keeps at least L - s tokens of context before what it scores
    assert (plan.score_from[1:] == L - s).all()


def test_sliding_gold_windows():
    # T = 10 targets, window 4, stride 2: first window scores 0..3, then 2 new targets each
    plan = sliding_windows(10, 4, 2)
    got = [(int(a), int(n), int(f)) for a, n, f in zip(plan.starts, plan.lengths, plan.score_from)]
    assert got == [(0, 4, 0), (2, 4, 2), (4, 4, 2), (6, 4, 2)]
    assert [list(range(a + f, a + n)) for a, n, f in got] == [[0, 1, 2, 3], [4, 5], [6, 7], [8, 9]]


def test_v1_tail_double_count_does_not_happen():
    # The records' v1 filter kept windows while ws < T, re-scoring the last stride targets in every
    # partial window: T + (L - stride) scored targets. Here the count is exactly T.
    T, L, s = 2048, 1024, 64
    plan = sliding_windows(T, L, s)
    assert int(plan.scored_counts.sum()) == T
    v1_starts = [ws for ws in range(0, T, s) if min(ws + L, T) - ws >= 1]
    v1_scored = sum(min(ws + L, T) - ws - (0 if ws == 0 else max(min(ws + L, T) - ws - s, 0)) for ws in v1_starts)
    assert v1_scored == T + (L - s)


def test_stride_equal_window_is_flat():
    T, L = 1024, 64
    a, b = sliding_windows(T, L, L), flat_windows(T, L)
    assert np.array_equal(a.starts, b.starts) and np.array_equal(a.score_from, b.score_from)


def test_flat_drops_a_partial_tail_like_the_baseline():
    plan = flat_windows(100, 32)
    assert len(plan) == 3 and int(plan.scored_counts.sum()) == 96


def test_bad_arguments():
    with pytest.raises(ValueError):
        sliding_windows(100, 32, 0)
    with pytest.raises(ValueError):
        sliding_windows(100, 32, 33)
    with pytest.raises(ValueError):
        flat_windows(0, 32)


def test_rank_slices_partition():
    for n in [0, 1, 5, 17]:
        for w in [1, 2, 3, 8]:
            parts = [rank_slice(n, r, w) for r in range(w)]
            assert sum(p.stop - p.start for p in parts) == n
            assert all(parts[i].stop == parts[i + 1].start for i in range(w - 1))
