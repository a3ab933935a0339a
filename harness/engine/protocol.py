"""The model side of the evaluators: a small protocol, so the reference model, submission adapters
and remote (sandboxed) models all plug in the same way.

Required:
    forward_logits(input_ids[B, T] int64) -> logits[B, T, V] (float; softcap already applied)

Optional capabilities, detected with ``hasattr``:
    forward_hidden(input_ids) -> hidden[B, T, D] and output_head() -> OutputHead
        lets the evaluator project only the positions it scores (sliding windows score 64 of
        2048 positions) and use the fused softcap + cross-entropy kernel.
    ttt_parameters() -> list[nn.Parameter]
        what chunked full-model SGD TTT trains (default: every parameter with requires_grad).
    lora_targets() -> dict[str, nn.Linear]
        linear layers that per-document LoRA TTT adapts (default: none; LoRA modes refuse).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import torch
from torch import Tensor, nn


@runtime_checkable
class EvalModel(Protocol):
    def forward_logits(self, input_ids: Tensor) -> Tensor: ...


@dataclass(frozen=True)
class OutputHead:
    """logits = softcap * tanh((hidden @ weight.T + bias) / softcap), or without tanh when softcap is None."""

    weight: Tensor  # [V, D]
    bias: Tensor | None = None
    softcap: float | None = None


class ModuleModel(nn.Module):
    """Adapt any ``nn.Module`` to the protocol.

    ``logits_fn(module, input_ids)`` returns logits; by default ``module(input_ids)``.
    """

    def __init__(
        self,
        module: nn.Module,
        logits_fn: Callable[[nn.Module, Tensor], Tensor] | None = None,
        *,
        lora_targets: Callable[[nn.Module], dict[str, nn.Linear]] | None = None,
    ):
        super().__init__()
        self.module = module
        self._logits_fn = logits_fn
        self._lora_targets = lora_targets

    def forward_logits(self, input_ids: Tensor) -> Tensor:
        if self._logits_fn is not None:
            return self._logits_fn(self.module, input_ids)
        return self.module(input_ids)

    def ttt_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.module.parameters() if p.requires_grad]

    def lora_targets(self) -> dict[str, nn.Linear]:
        return {} if self._lora_targets is None else self._lora_targets(self.module)


def ttt_parameters(model: EvalModel) -> list[nn.Parameter]:
    if hasattr(model, "ttt_parameters"):
        return list(model.ttt_parameters())
    if isinstance(model, nn.Module):
        return [p for p in model.parameters() if p.requires_grad]
    return []


def lora_targets(model: EvalModel) -> dict[str, nn.Linear]:
    return dict(model.lora_targets()) if hasattr(model, "lora_targets") else {}


def model_device(model: EvalModel) -> torch.device:
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return torch.device(getattr(model, "device", "cpu"))
