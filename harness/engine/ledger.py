"""Score-first legality, enforced while the evaluator runs.

The ledger records every target as it is scored and refuses (LegalityError) to score a target
twice or to let any update use a target that has not been scored yet. With several ranks a chunk's
windows are scored by different ranks, so the check before an update counts scored targets across
ranks (one small all-reduce per update range).

An optional ``trace`` callback receives ("score", lo, hi) and ("update", lo, hi) events, for
reports and tests.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from harness.engine.dist import DistContext
from harness.errors import LegalityError

TraceFn = Callable[[str, int, int], None]


class ScoreLedger:
    def __init__(self, num_targets: int, dist_ctx: DistContext | None = None, trace: TraceFn | None = None):
        self.scored = np.zeros(num_targets, dtype=np.bool_)
        self.dist = dist_ctx or DistContext()
        self.trace = trace

    def record_scored(self, target_index: np.ndarray) -> None:
        if target_index.size == 0:
            return
        if self.scored[target_index].any():
            j = int(target_index[self.scored[target_index]][0])
            raise LegalityError(f"target {j} would be scored a second time; a reported score must be the first one")
        uniq = np.unique(target_index)
        if uniq.size != target_index.size:
            raise LegalityError("a batch scores the same target twice")
        self.scored[target_index] = True
        if self.trace is not None:
            self.trace("score", int(target_index.min()), int(target_index.max()) + 1)

    def require_scored(self, lo: int, hi: int, *, across_ranks: bool = True) -> None:
        """Before an update that uses targets [lo, hi): every one of them must have been scored."""
        if hi <= lo:
            return
        local = int(self.scored[lo:hi].sum())
        total = round(self.dist.all_reduce_sum([float(local)])[0]) if (across_ranks and self.dist.active) else local
        if total != hi - lo:
            raise LegalityError(
                f"an update would train on targets [{lo}, {hi}) but only {total} of {hi - lo} have been scored"
            )
        if self.trace is not None:
            self.trace("update", lo, hi)

    def unscored_count(self) -> int:
        return int((~self.scored).sum())
