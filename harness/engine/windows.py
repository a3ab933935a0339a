"""Which positions each evaluation window feeds and which targets it scores.

Indices are *target* indices: target ``j`` is ``tokens[j + 1]`` predicted from ``tokens[: j + 1]``;
a stream of ``N`` tokens has ``T = N - 1`` targets. A window starting at ``start`` feeds
``tokens[start : start + length]`` and scores targets ``start + score_from ... start + length - 1``.

Sliding windows (window ``L``, stride ``s``): windows start every ``s`` targets; the first scores all
its positions, every later one scores only its last ``s`` (positions ``L - s ... L - 1``), i.e.
exactly the targets not scored yet, each with at least ``L - s`` tokens of context. Windows are
generated while they still have something to score, so every target is scored exactly once: the
v1 tail double count of early records (partial windows at the end re-scoring the last ``s``
targets) cannot happen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowPlan:
    starts: np.ndarray  # int64 [W]
    lengths: np.ndarray  # int64 [W], <= seq_len
    score_from: np.ndarray  # int64 [W], first scored position inside the window
    seq_len: int

    def __len__(self) -> int:
        return int(self.starts.size)

    @property
    def first_scored(self) -> np.ndarray:
        return self.starts + self.score_from

    @property
    def scored_counts(self) -> np.ndarray:
        return self.lengths - self.score_from

    def select(self, index: np.ndarray | slice) -> "WindowPlan":
        return WindowPlan(self.starts[index], self.lengths[index], self.score_from[index], self.seq_len)

    def coverage(self, num_targets: int) -> np.ndarray:
        """How many times each target is scored (testing aid; O(T))."""
        counts = np.zeros(num_targets + 1, dtype=np.int64)
        np.add.at(counts, self.first_scored, 1)
        np.add.at(counts, self.starts + self.lengths, -1)
        return np.cumsum(counts)[:num_targets]


def flat_windows(num_targets: int, seq_len: int) -> WindowPlan:
    """Non-overlapping windows as the baseline's ``eval_val``: ``num_targets // seq_len`` full windows;
    a trailing remainder shorter than ``seq_len`` is not scored (the challenge truncates the stream so
    there is none)."""
    _check(num_targets, seq_len)
    n = num_targets // seq_len
    starts = np.arange(n, dtype=np.int64) * seq_len
    return WindowPlan(starts, np.full(n, seq_len, np.int64), np.zeros(n, np.int64), seq_len)


def sliding_windows(num_targets: int, seq_len: int, stride: int) -> WindowPlan:
    _check(num_targets, seq_len)
    if not 1 <= stride <= seq_len:
        raise ValueError(f"stride must be in [1, seq_len={seq_len}], got {stride}")
    starts = np.arange(0, num_targets, stride, dtype=np.int64)
    lengths = np.minimum(seq_len, num_targets - starts)
    score_from = np.where(starts == 0, 0, seq_len - stride).astype(np.int64)
    keep = lengths > score_from
    return WindowPlan(starts[keep], lengths[keep], score_from[keep], seq_len)


def rank_slice(count: int, rank: int, world_size: int) -> slice:
    """Contiguous share of ``count`` items for ``rank`` (the records' split)."""
    return slice(count * rank // world_size, count * (rank + 1) // world_size)


def _check(num_targets: int, seq_len: int) -> None:
    if seq_len <= 0:
        raise ValueError("seq_len must be positive")
    if num_targets <= 0:
        raise ValueError("the stream has no targets (it needs at least 2 tokens)")
