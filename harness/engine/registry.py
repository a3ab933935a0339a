"""Registries of evaluation modes and metrics (lm-evaluation-harness style).

A mode carries an integer VERSION: a change that alters the numbers it reports bumps it, and
reports print it. Metrics state their direction and how they aggregate: always a ratio of sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

EVAL_MODES: dict[str, "ModeInfo"] = {}
METRICS: dict[str, "MetricInfo"] = {}


@dataclass(frozen=True)
class ModeInfo:
    name: str
    version: int
    fn: Callable
    summary: str


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    aggregation: str
    summary: str


def register_eval_mode(name: str, *, version: int, summary: str):
    def deco(fn: Callable) -> Callable:
        if name in EVAL_MODES:
            raise ValueError(f"eval mode {name!r} registered twice")
        EVAL_MODES[name] = ModeInfo(name, version, fn, summary)
        fn.mode_name = name
        fn.mode_version = version
        return fn

    return deco


def register_metric(name: str, *, higher_is_better: bool, aggregation: str, summary: str) -> None:
    METRICS[name] = MetricInfo(name, higher_is_better, aggregation, summary)


register_metric("val_loss", higher_is_better=False, aggregation="sum_ratio", summary="sum of NLL (nats) / scored tokens")
register_metric("val_bpb", higher_is_better=False, aggregation="sum_ratio", summary="sum of NLL / (ln 2 * bytes of scored targets)")
