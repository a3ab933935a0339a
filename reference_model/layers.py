"""Small building blocks: parameter-free RMSNorm, partial rotary embeddings, activations."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def rms_norm(x: Tensor, eps: float = 1e-6) -> Tensor:
    return F.rms_norm(x, (x.size(-1),), eps=eps)


class PartialRotary(torch.nn.Module):
    """Rotate-half RoPE on the first ``dims`` dimensions of each head; cos/sin cached per length."""

    def __init__(self, dims: int, base: float):
        super().__init__()
        self.dims = dims
        inv = 1.0 / (base ** (torch.arange(0, dims, 2, dtype=torch.float32) / dims)) if dims else torch.zeros(0)
        self.register_buffer("inv_freq", inv, persistent=False)
        self._cache: tuple[int, torch.device, Tensor, Tensor] | None = None

    def cos_sin(self, length: int, device: torch.device) -> tuple[Tensor, Tensor]:
        if self._cache is None or self._cache[0] < length or self._cache[1] != device:
            t = torch.arange(length, device=device, dtype=torch.float32)
            freqs = torch.outer(t, self.inv_freq.to(device))
            self._cache = (length, device, freqs.cos(), freqs.sin())
        return self._cache[2][:length], self._cache[3][:length]

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, T, H, D]."""
        if not self.dims:
            return x
        cos, sin = self.cos_sin(x.size(1), x.device)
        cos, sin = cos[None, :, None, :].to(x.dtype), sin[None, :, None, :].to(x.dtype)
        rot, rest = x[..., : self.dims], x[..., self.dims :]
        half = self.dims // 2
        a, b = rot[..., :half], rot[..., half:]
        rotated = torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)
        return torch.cat([rotated, rest], dim=-1)


def leaky_relu2(x: Tensor, slope: float) -> Tensor:
    return F.leaky_relu(x, slope).square()


def relu2(x: Tensor) -> Tensor:
    return F.relu(x).square()


def softcap(logits: Tensor, cap: float | None) -> Tensor:
    return logits if not cap else cap * torch.tanh(logits / cap)
