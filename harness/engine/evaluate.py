"""Flat and sliding-window evaluation.

Both walk a :class:`~harness.engine.windows.WindowPlan` in batches, score each window's scored
positions with :mod:`harness.engine.forward` (hence :func:`~harness.engine.scoring.token_nll`) and
add float64 sums. Windows are split contiguously across ranks and the sums all-reduced, so the
result does not depend on batch size or world size (up to float64 summation order).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from harness.atomic import atomic_write_bytes
from harness.engine.dist import DistContext
from harness.engine.forward import has_hidden_path, score_window_batch
from harness.engine.ledger import ScoreLedger, TraceFn
from harness.engine.protocol import EvalModel, model_device
from harness.engine.registry import register_eval_mode
from harness.engine.scoring import EvalResult, ScoreSums
from harness.engine.stream import EvalStream
from harness.engine.windows import WindowPlan, flat_windows, rank_slice, sliding_windows


@dataclass
class RunOptions:
    """Knobs shared by every mode."""

    batch_windows: int = 32
    autocast_dtype: torch.dtype | None = None
    per_token_path: str | Path | None = None  # write float64 per-target NLL (.npy) here
    collect_per_token: bool = False  # keep per-target NLL on the result (EvalResult.per_token_nll)
    collect_probe: bool = False  # also keep the NLL of a fixed probe label per target (prefix probe)
    progress: bool = False
    trace: TraceFn | None = None
    dist: DistContext | None = None
    compile: bool | str = False  # torch.compile the model's forward_hidden for the fixed batch shape (a str names the mode)

    def dist_ctx(self) -> DistContext:
        return self.dist or DistContext.current()

    def compiled_hidden(self, model: EvalModel):
        """The model's forward_hidden, compiled once per options object when ``compile`` is set."""
        if not (self.compile and has_hidden_path(model)):
            return None
        cache = self.__dict__.setdefault("_compiled", {})
        if id(model) not in cache:
            mode = self.compile if isinstance(self.compile, str) and self.compile != "default" else None
            cache[id(model)] = torch.compile(model.forward_hidden, dynamic=False, mode=mode)
        return cache[id(model)]


class PerTokenNLL:
    """Optional collection of per-target NLL, reduced across ranks (each target is scored by one rank)."""

    def __init__(self, num_targets: int, opts: "RunOptions"):
        enabled = opts.per_token_path is not None or opts.collect_per_token or opts.collect_probe
        self.values = np.full(num_targets, np.nan, dtype=np.float64) if enabled else None
        self.probe_values = np.full(num_targets, np.nan, dtype=np.float64) if opts.collect_probe else None
        self.probe_sink: list | None = [] if opts.collect_probe else None

    def add(self, target_index: np.ndarray, nll: torch.Tensor) -> None:
        if self.values is not None:
            self.values[target_index] = nll.detach().to(torch.float64).cpu().numpy()
        if self.probe_sink:
            self.probe_values[target_index] = self.probe_sink.pop().detach().to(torch.float64).cpu().numpy()

    def finish(self, dist_ctx: DistContext, path: str | Path | None) -> np.ndarray | None:
        if self.values is None:
            return None
        if dist_ctx.active:  # each target was scored by exactly one rank: SUM of zero-filled copies
            t = torch.from_numpy(np.nan_to_num(self.values, nan=0.0))
            dist_ctx.all_reduce_tensor_(t)
            self.values = t.numpy()
        if path is not None and dist_ctx.rank == 0:
            import io

            buf = io.BytesIO()
            np.save(buf, self.values)
            atomic_write_bytes(path, buf.getvalue())
        return self.values


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="win", leave=False, dynamic_ncols=True)


def score_plan(
    model: EvalModel,
    tokens_dev: torch.Tensor,
    stream: EvalStream,
    plan: WindowPlan,
    sums: ScoreSums,
    ledger: ScoreLedger,
    per_token: PerTokenNLL,
    opts: RunOptions,
    bar=None,
) -> None:
    """Score every window of ``plan`` (this rank's share) under no_grad, adding to ``sums``.

    With a compiled forward every batch has the same shape: the last one is padded with windows
    that score nothing.
    """
    compiled = opts.compiled_hidden(model)
    with torch.no_grad():
        for lo in range(0, len(plan), opts.batch_windows):
            batch = plan.select(slice(lo, lo + opts.batch_windows))
            if compiled is not None and len(batch) < opts.batch_windows:
                batch = _pad_plan(batch, opts.batch_windows)
            nll, target_index = score_window_batch(
                model, tokens_dev, batch, autocast_dtype=opts.autocast_dtype, probe=per_token.probe_sink,
                forward_hidden=compiled,
            )
            ledger.record_scored(target_index)
            sums.add(nll, stream.bytes_of(target_index))
            per_token.add(target_index, nll)
            if bar is not None:
                bar.update(min(len(batch), len(plan) - lo))


def _pad_plan(plan: WindowPlan, size: int) -> WindowPlan:
    extra = size - len(plan)
    rep = np.zeros(extra, dtype=np.int64)
    return WindowPlan(
        np.concatenate([plan.starts, plan.starts[rep]]),
        np.concatenate([plan.lengths, plan.lengths[rep]]),
        np.concatenate([plan.score_from, plan.lengths[rep]]),  # score_from == length: nothing scored
        plan.seq_len,
    )


def _run_plan(mode_fn, model: EvalModel, stream: EvalStream, plan: WindowPlan, opts: RunOptions, params: dict) -> EvalResult:
    dist_ctx = opts.dist_ctx()
    t0 = time.perf_counter()
    device = model_device(model)
    tokens_dev = stream.tokens.to(device)
    mine = plan.select(rank_slice(len(plan), dist_ctx.rank, dist_ctx.world_size))
    sums, ledger = ScoreSums(), ScoreLedger(stream.num_targets, dist_ctx, opts.trace)
    per_token = PerTokenNLL(stream.num_targets, opts)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    bar = _progress(len(mine), mode_fn.mode_name, opts.progress and dist_ctx.rank == 0)
    try:
        score_plan(model, tokens_dev, stream, mine, sums, ledger, per_token, opts, bar)
    finally:
        if bar is not None:
            bar.close()
        if was_training and hasattr(model, "train"):
            model.train()
    total = sums.reduced(dist_ctx)
    values = per_token.finish(dist_ctx, opts.per_token_path)
    return EvalResult.from_sums(
        mode_fn.mode_name,
        mode_fn.mode_version,
        total,
        time.perf_counter() - t0,
        params=params,
        world_size=dist_ctx.world_size,
        per_token_nll_path=None if opts.per_token_path is None else str(opts.per_token_path),
        details={"windows": len(plan), "unscored_targets": stream.num_targets - total.token_count},
        per_token_nll=values if (opts.collect_per_token or opts.collect_probe) else None,
        probe_nll=per_token.probe_values,
    )


@register_eval_mode("flat", version=1, summary="non-overlapping windows of seq_len, context reset at each window (baseline eval_val)")
def flat(model: EvalModel, stream: EvalStream, *, seq_len: int, opts: RunOptions | None = None) -> EvalResult:
    opts = opts or RunOptions()
    plan = flat_windows(stream.num_targets, seq_len)
    return _run_plan(flat, model, stream, plan, opts, {"seq_len": seq_len, "batch_windows": opts.batch_windows})


@register_eval_mode("sliding", version=1, summary="windows of seq_len every stride targets; each target scored once")
def sliding(model: EvalModel, stream: EvalStream, *, seq_len: int, stride: int = 64, opts: RunOptions | None = None) -> EvalResult:
    opts = opts or RunOptions()
    plan = sliding_windows(stream.num_targets, seq_len, stride)
    return _run_plan(
        sliding, model, stream, plan, opts, {"seq_len": seq_len, "stride": stride, "batch_windows": opts.batch_windows}
    )
