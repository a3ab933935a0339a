"""Running a model on a batch of windows and scoring exactly the positions each window scores.

When the model offers ``forward_hidden`` and ``output_head`` (see protocol.py), only the scored
positions are projected to the vocabulary: a sliding window of 2048 positions with stride 64 then
costs 64 rows of the output projection instead of 2048. Otherwise the model's full logits are
computed and the scored positions gathered. Either way the loss comes from scoring.token_nll.

Which positions a window scores is known on the host from the window plan, so a batch is built
and scored without the host ever waiting for the device; in the common case (full windows that
all score their last ``stride`` positions) the scored rows are a plain slice.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from harness.engine.protocol import EvalModel, OutputHead
from harness.engine.scoring import token_nll
from harness.engine.windows import WindowPlan


def apply_head(hidden: Tensor, head: OutputHead) -> Tensor:
    bias = None if head.bias is None else head.bias.to(hidden.dtype)
    logits = torch.nn.functional.linear(hidden, head.weight.to(hidden.dtype), bias)
    if head.softcap is not None:
        logits = head.softcap * torch.tanh(logits / head.softcap)
    return logits


def has_hidden_path(model: EvalModel) -> bool:
    return hasattr(model, "forward_hidden") and hasattr(model, "output_head")


def autocast_for(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def probe_labels(target_index: Tensor, vocab: int) -> Tensor:
    """A label per target that depends only on its stream index, not on the tokens: the NLL of this
    label fingerprints the predicted distribution (used by the prefix-invariance probe, which must
    also see a model that peeks at its own label)."""
    return (target_index * 7919 + 13) % vocab


@dataclass(frozen=True)
class ScoredPositions:
    """Host-side description of what a batch scores."""

    target_index: np.ndarray  # stream index of every scored target, in row-major (window, position) order
    uniform_from: int | None  # every window is full and scores positions [uniform_from, L)
    b_idx: np.ndarray | None  # otherwise: window row and position of each scored target
    pos_idx: np.ndarray | None


def scored_positions(plan: WindowPlan) -> ScoredPositions:
    L = plan.seq_len
    if len(plan) and (plan.lengths == L).all() and (plan.score_from == plan.score_from[0]).all():
        sf = int(plan.score_from[0])
        target = (plan.starts[:, None] + np.arange(sf, L)[None, :]).reshape(-1)
        return ScoredPositions(target, sf, None, None)
    offsets = np.arange(L)[None, :]
    mask = (offsets < plan.lengths[:, None]) & (offsets >= plan.score_from[:, None])
    b_idx, pos_idx = np.nonzero(mask)
    return ScoredPositions(plan.starts[b_idx] + pos_idx, None, b_idx, pos_idx)


def _to_device(a: np.ndarray, device: torch.device) -> Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a))
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def window_batch(tokens: Tensor, plan: WindowPlan) -> tuple[Tensor, Tensor, Tensor]:
    """Inputs ``x`` [B, L], targets ``y`` [B, L] (zero-padded past each window's length) and the
    scored-position mask [B, L] for the windows of ``plan``; on ``tokens``' device."""
    device = tokens.device
    L = plan.seq_len
    starts = _to_device(plan.starts, device)
    offsets = torch.arange(L, device=device)
    idx = starts[:, None] + offsets[None, :]
    last = tokens.numel() - 1
    if (plan.lengths == L).all():
        x, y = tokens[idx], tokens[idx + 1]
        valid = torch.ones_like(x, dtype=torch.bool)
    else:
        valid = offsets[None, :] < _to_device(plan.lengths, device)[:, None]
        x = torch.where(valid, tokens[idx.clamp(max=last)], 0)
        y = torch.where(valid, tokens[(idx + 1).clamp(max=last)], 0)
    scored = valid & (offsets[None, :] >= _to_device(plan.score_from, device)[:, None])
    return x.long(), y.long(), scored


def score_window_batch(
    model: EvalModel,
    tokens: Tensor,
    plan: WindowPlan,
    *,
    autocast_dtype: torch.dtype | None = None,
    probe: list | None = None,
    forward_hidden=None,
) -> tuple[Tensor, np.ndarray]:
    """NLL of every scored target of the windows in ``plan`` and the targets' stream indices.

    Grad mode is the caller's: scoring passes run under ``torch.no_grad()``. When ``probe`` is a
    list, the NLL of :func:`probe_labels` is appended to it. ``forward_hidden`` may be a compiled
    version of the model's own.
    """
    device = tokens.device
    x, y, _ = window_batch(tokens, plan)
    where = scored_positions(plan)
    with autocast_for(device, autocast_dtype):
        if has_hidden_path(model):
            hidden = (forward_hidden or model.forward_hidden)(x)
            if where.uniform_from is not None:
                h = hidden[:, where.uniform_from :, :].reshape(-1, hidden.shape[-1])
            else:
                h = hidden[_to_device(where.b_idx, device), _to_device(where.pos_idx, device)]
            logits = apply_head(h, model.output_head())
        else:
            full = model.forward_logits(x)
            if where.uniform_from is not None:
                logits = full[:, where.uniform_from :, :].reshape(-1, full.shape[-1])
            else:
                logits = full[_to_device(where.b_idx, device), _to_device(where.pos_idx, device)]
    if where.uniform_from is not None:
        targets = y[:, where.uniform_from :].reshape(-1)
    else:
        targets = y[_to_device(where.b_idx, device), _to_device(where.pos_idx, device)]
    nll = token_nll(logits, targets)
    if probe is not None:
        probe.append(token_nll(logits, probe_labels(_to_device(where.target_index, device), logits.shape[-1])))
    return nll, where.target_index
