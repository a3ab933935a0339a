"""The challenge's significance rule: a new record must beat the previous one by at least 0.005
nats (val_loss per token) at p < 0.01, usually over 3 seeds.

One-sided Welch test of H0: mean(new) >= mean(old) - 0.005, i.e. on the samples ``old - 0.005``
and ``new`` with the alternative that the first mean is greater.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

REQUIRED_NATS = 0.005
ALPHA = 0.01


@dataclass
class WelchResult:
    n_new: int
    n_old: int
    mean_new: float
    mean_old: float
    std_new: float
    std_old: float
    t: float
    df: float
    p: float
    margin: float = REQUIRED_NATS
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        return self.p < self.alpha

    def to_dict(self) -> dict:
        return {**asdict(self), "significant": self.significant}


def welch_improvement(new: list[float], old: list[float], margin: float = REQUIRED_NATS) -> WelchResult:
    from scipy import stats

    if len(new) < 2 or len(old) < 2:
        raise ValueError(f"need at least 2 values on each side (got {len(new)} new, {len(old)} old)")
    shifted = [v - margin for v in old]
    res = stats.ttest_ind(shifted, new, equal_var=False, alternative="greater")
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    std = lambda xs: math.sqrt(sum((x - mean(xs)) ** 2 for x in xs) / (len(xs) - 1))  # noqa: E731
    vn, vo = std(new) ** 2 / len(new), std(old) ** 2 / len(old)
    df = (vn + vo) ** 2 / ((vn**2) / (len(new) - 1) + (vo**2) / (len(old) - 1)) if (vn + vo) > 0 else float("inf")
    return WelchResult(len(new), len(old), mean(new), mean(old), std(new), std(old), float(res.statistic), df,
                       float(res.pvalue), margin)
