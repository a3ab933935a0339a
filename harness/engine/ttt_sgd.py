"""Score-first TTT with chunked full-model SGD (the PR #461 recipe used by the April records).

The evaluator owns the loop, so the order is legal by construction::

    for chunk ci in order:
        score every sliding window whose first scored target lies in chunk ci   (no_grad; sums committed)
        unless ci is the last chunk:
            for epoch in range(epochs):                # epochs *inside* the chunk, after it was scored
                SGD steps on the chunk's sequences     # only targets already scored (ledger-checked)

A score is never recomputed after adaptation: each target's NLL is added once, when it is first
scored, and that sum is the reported number. The learning rate follows a cosine over chunks; the
first ``freeze_blocks`` blocks can be frozen; gradients are summed across ranks and normalised by
the global number of trained tokens, so the update does not depend on the world size.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from harness.engine.evaluate import PerTokenNLL, RunOptions, _progress, score_plan
from harness.engine.forward import apply_head, autocast_for, has_hidden_path
from harness.engine.ledger import ScoreLedger
from harness.engine.protocol import EvalModel, model_device, ttt_parameters
from harness.engine.registry import register_eval_mode
from harness.engine.scoring import EvalResult, ScoreSums, token_nll
from harness.engine.stream import EvalStream
from harness.engine.windows import rank_slice, sliding_windows
from harness.errors import UsageError


@dataclass
class SGDTTTConfig:
    seq_len: int = 2048  # scoring window
    stride: int = 64
    chunk_tokens: int = 32768
    epochs: int = 3
    lr: float = 0.005
    momentum: float = 0.9
    cosine: bool = True
    freeze_blocks: int = 0  # parameters named "<block_prefix><i>." for i < freeze_blocks are not trained
    block_prefix: str = "blocks."
    grad_clip: float = 1.0
    batch_seqs: int = 32  # sequences per optimizer step (global, split across ranks)
    train_seq_len: int | None = None  # default: seq_len
    adapt_last_chunk: bool = False  # the last chunk's update could never help a later score
    restore_weights: bool = True  # put the model back as it was when done


def _named_ttt_parameters(model: EvalModel) -> list[tuple[str, torch.nn.Parameter]]:
    params = ttt_parameters(model)
    if isinstance(model, torch.nn.Module):
        names = {id(p): n for n, p in model.named_parameters()}
        # ModuleModel wraps the real module under "module."
        return [(names.get(id(p), f"param{i}").removeprefix("module."), p) for i, p in enumerate(params)]
    return [(f"param{i}", p) for i, p in enumerate(params)]


def trainable_after_freeze(model: EvalModel, freeze_blocks: int, block_prefix: str) -> list[torch.nn.Parameter]:
    if freeze_blocks <= 0:
        return [p for _, p in _named_ttt_parameters(model)]
    pattern = re.compile(re.escape(block_prefix) + r"(\d+)\.")
    keep = []
    for name, p in _named_ttt_parameters(model):
        m = pattern.match(name)
        if m and int(m.group(1)) < freeze_blocks:
            continue
        keep.append(p)
    return keep


def sequence_loss_sum(model: EvalModel, x: torch.Tensor, y: torch.Tensor, forward_hidden=None) -> torch.Tensor:
    """Sum of token NLL over every position of a batch of training sequences (grad enabled).
    ``forward_hidden`` may be a compiled version of the model's own."""
    if has_hidden_path(model):
        logits = apply_head((forward_hidden or model.forward_hidden)(x), model.output_head())
    else:
        logits = model.forward_logits(x)
    return token_nll(logits, y).sum()


@register_eval_mode("ttt_sgd", version=1, summary="score-first TTT: score each chunk, then SGD on it (chunked full model)")
def ttt_sgd(model: EvalModel, stream: EvalStream, config: SGDTTTConfig | None = None, opts: RunOptions | None = None) -> EvalResult:
    cfg = config or SGDTTTConfig()
    opts = opts or RunOptions()
    dist_ctx = opts.dist_ctx()
    t0 = time.perf_counter()
    T = stream.num_targets
    Lt = cfg.train_seq_len or cfg.seq_len
    if cfg.chunk_tokens < Lt:
        raise UsageError(f"chunk_tokens ({cfg.chunk_tokens}) must be at least the training sequence length ({Lt})")
    params = trainable_after_freeze(model, cfg.freeze_blocks, cfg.block_prefix)
    if not params and cfg.lr != 0:
        raise UsageError("the model exposes no trainable parameters for TTT")
    plan = sliding_windows(T, cfg.seq_len, cfg.stride)
    n_chunks = math.ceil(T / cfg.chunk_tokens)
    chunk_of_window = np.minimum(plan.first_scored // cfg.chunk_tokens, n_chunks - 1)
    order = np.argsort(chunk_of_window, kind="stable")
    bounds = np.searchsorted(chunk_of_window[order], np.arange(n_chunks + 1))

    device = model_device(model)
    tokens_dev = stream.tokens.to(device)
    sums, ledger = ScoreSums(), ScoreLedger(T, dist_ctx, opts.trace)
    per_token = PerTokenNLL(T, opts)
    snapshot = [p.detach().clone() for p in params] if cfg.restore_weights else None
    optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum) if params else None
    was_training = getattr(model, "training", False)
    bar = _progress(len(plan), "ttt_sgd", opts.progress and dist_ctx.rank == 0)
    steps = 0
    try:
        for ci in range(n_chunks):
            chunk_plan = plan.select(order[bounds[ci] : bounds[ci + 1]])
            mine = chunk_plan.select(rank_slice(len(chunk_plan), dist_ctx.rank, dist_ctx.world_size))
            if hasattr(model, "eval"):
                model.eval()
            score_plan(model, tokens_dev, stream, mine, sums, ledger, per_token, opts, bar)
            if optimizer is None or (ci == n_chunks - 1 and not cfg.adapt_last_chunk):
                continue
            cs, ce = ci * cfg.chunk_tokens, min((ci + 1) * cfg.chunk_tokens, T)
            n_seq = (ce - cs) // Lt
            if n_seq == 0:
                continue
            ledger.require_scored(cs, cs + n_seq * Lt)
            lr = cfg.lr * 0.5 * (1 + math.cos(math.pi * ci / (n_chunks - 1))) if (cfg.cosine and n_chunks > 1) else cfg.lr
            for group in optimizer.param_groups:
                group["lr"] = lr
            if hasattr(model, "train"):
                model.train()
            for _epoch in range(cfg.epochs):
                for b0 in range(0, n_seq, cfg.batch_seqs):
                    b1 = min(b0 + cfg.batch_seqs, n_seq)
                    share = rank_slice(b1 - b0, dist_ctx.rank, dist_ctx.world_size)
                    optimizer.zero_grad(set_to_none=True)
                    k0, k1 = b0 + share.start, b0 + share.stop
                    if k1 > k0:
                        starts = cs + torch.arange(k0, k1, device=device) * Lt
                        idx = starts[:, None] + torch.arange(Lt, device=device)[None, :]
                        x, y = tokens_dev[idx], tokens_dev[idx + 1]
                        with autocast_for(device, opts.autocast_dtype):
                            loss = sequence_loss_sum(model, x, y, opts.compiled_hidden(model)) / float((b1 - b0) * Lt)
                        loss.backward()
                    dist_ctx.all_reduce_grads_(params)
                    if cfg.grad_clip:
                        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                    optimizer.step()
                    steps += 1
    finally:
        if bar is not None:
            bar.close()
        if snapshot is not None:
            with torch.no_grad():
                for p, saved in zip(params, snapshot):
                    p.copy_(saved)
        if optimizer is not None:
            optimizer.zero_grad(set_to_none=True)
        if hasattr(model, "train"):
            model.train(was_training)
    total = sums.reduced(dist_ctx)
    values = per_token.finish(dist_ctx, opts.per_token_path)
    return EvalResult.from_sums(
        "ttt_sgd",
        ttt_sgd.mode_version,
        total,
        time.perf_counter() - t0,
        params={**asdict(cfg), "batch_windows": opts.batch_windows},
        world_size=dist_ctx.world_size,
        per_token_nll_path=None if opts.per_token_path is None else str(opts.per_token_path),
        details={"chunks": n_chunks, "windows": len(plan), "optimizer_steps": steps},
        per_token_nll=values if (opts.collect_per_token or opts.collect_probe) else None,
        probe_nll=per_token.probe_values,
    )
