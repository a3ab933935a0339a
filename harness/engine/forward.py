"""Running a model on a batch of windows and scoring exactly the positions each window scores.

When the model offers ``forward_hidden`` and ``output_head`` (see protocol.py), only the scored
positions are projected to the vocabulary: a sliding window of 2048 positions with stride 64 then
costs 64 rows of the output projection instead of 2048. Otherwise the model's full logits are
computed and the scored positions gathered. Either way the loss comes from scoring.token_nll.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import Tensor

from harness.engine.protocol import EvalModel, OutputHead
from harness.engine.scoring import token_nll
from harness.engine.windows import WindowPlan


def apply_head(hidden: Tensor, head: OutputHead) -> Tensor:
    logits = torch.nn.functional.linear(hidden, head.weight.to(hidden.dtype), None if head.bias is None else head.bias.to(hidden.dtype))
    if head.softcap is not None:
        logits = head.softcap * torch.tanh(logits / head.softcap)
    return logits


def has_hidden_path(model: EvalModel) -> bool:
    return hasattr(model, "forward_hidden") and hasattr(model, "output_head")


def autocast_for(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def window_batch(tokens: Tensor, plan: WindowPlan) -> tuple[Tensor, Tensor, Tensor]:
    """Inputs ``x`` [B, L], targets ``y`` [B, L] (zero-padded past each window's length) and the
    scored-position mask [B, L] for the windows of ``plan``; on ``tokens``' device."""
    device = tokens.device
    L = plan.seq_len
    starts = torch.as_tensor(plan.starts, device=device)
    lengths = torch.as_tensor(plan.lengths, device=device)
    score_from = torch.as_tensor(plan.score_from, device=device)
    offsets = torch.arange(L, device=device)
    idx = starts[:, None] + offsets[None, :]
    valid = offsets[None, :] < lengths[:, None]
    last = tokens.numel() - 1
    x = torch.where(valid, tokens[idx.clamp(max=last)], 0)
    y = torch.where(valid, tokens[(idx + 1).clamp(max=last)], 0)
    scored = valid & (offsets[None, :] >= score_from[:, None])
    return x.long(), y.long(), scored


def probe_labels(target_index: Tensor, vocab: int) -> Tensor:
    """A label per target that depends only on its stream index, not on the tokens: the NLL of this
    label fingerprints the predicted distribution (used by the prefix-invariance probe, which must
    also see a model that peeks at its own label)."""
    return (target_index * 7919 + 13) % vocab


def score_window_batch(
    model: EvalModel,
    tokens: Tensor,
    plan: WindowPlan,
    *,
    autocast_dtype: torch.dtype | None = None,
    probe: list | None = None,
) -> tuple[Tensor, np.ndarray]:
    """NLL of every scored target of the windows in ``plan`` and the targets' stream indices.

    Grad mode is the caller's: scoring passes run under ``torch.no_grad()`` except where a TTT mode
    needs the graph (per-document LoRA scores and trains from one forward). When ``probe`` is a list,
    the NLL of :func:`probe_labels` is appended to it.
    """
    x, y, scored = window_batch(tokens, plan)
    b_idx, pos_idx = scored.nonzero(as_tuple=True)
    with autocast_for(x.device, autocast_dtype):
        if has_hidden_path(model):
            hidden = model.forward_hidden(x)
            logits = apply_head(hidden[b_idx, pos_idx], model.output_head())
        else:
            logits = model.forward_logits(x)[b_idx, pos_idx]
    nll = token_nll(logits, y[b_idx, pos_idx])
    target_index = torch.as_tensor(plan.starts, device=x.device)[b_idx] + pos_idx
    if probe is not None:
        probe.append(token_nll(logits, probe_labels(target_index, logits.shape[-1])))
    return nll, target_index.cpu().numpy()
