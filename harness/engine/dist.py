"""Rank/world bookkeeping and float64 reductions over torch.distributed (NCCL or gloo).

Evaluators never call torch.distributed directly: they ask a DistContext, which is a no-op for a
single process. Sums are reduced in float64 on the backend's device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1

    initialized: bool = False

    @classmethod
    def current(cls) -> "DistContext":
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size(), True)
        return cls()

    @property
    def active(self) -> bool:
        """Collectives run whenever a process group exists, world size 1 included (so NCCL and gloo
        code paths are exercised on one device too)."""
        return self.initialized

    def _device(self) -> torch.device:
        if dist.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        if not self.active:
            return [float(v) for v in values]
        t = torch.tensor(values, dtype=torch.float64, device=self._device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return [float(v) for v in t.cpu()]

    def all_reduce_tensor_(self, t: torch.Tensor) -> torch.Tensor:
        """In-place SUM of a tensor (on the backend's device for NCCL)."""
        if self.active:
            if dist.get_backend() == "nccl" and t.device.type != "cuda":
                moved = t.to(self._device())
                dist.all_reduce(moved, op=dist.ReduceOp.SUM)
                t.copy_(moved.cpu())
            else:
                dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def all_reduce_grads_(self, params: list[torch.nn.Parameter]) -> None:
        """SUM of gradients across ranks, coalesced into one flat buffer per dtype.

        A parameter without a gradient on this rank gets a zero gradient first, so every rank
        contributes buffers of the same layout (otherwise the collective would hang or mix tensors).
        """
        if not self.active:
            return
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
        for p in params:
            by_dtype.setdefault(p.grad.dtype, []).append(p.grad)
        for grads in by_dtype.values():
            flat = torch.cat([g.reshape(-1) for g in grads])
            self.all_reduce_tensor_(flat)
            offset = 0
            for g in grads:
                n = g.numel()
                g.copy_(flat[offset : offset + n].view_as(g))
                offset += n

    def barrier(self) -> None:
        if self.active:
            dist.barrier()
