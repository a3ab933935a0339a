"""Optimizers and parameter routing.

Muon (Nesterov momentum, optional MuonEq-R row normalisation, Newton-Schulz quintic, aspect-ratio
scale, decoupled weight decay) for the blocks' 2-D matrices; AdamW for the embedding, the control
scalars and the adapters. ``route_parameters`` is the one place that decides where a parameter
goes, and it refuses to leave any trainable parameter out (the #1181/#1552 bug).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import Tensor, nn

from reference_model.config import Preset

NS_COEFFS = (3.4445, -4.7750, 2.0315)
MATRIX_PREFIXES = (".attn.q.weight", ".attn.k.weight", ".attn.v.weight", ".attn.o.weight", ".attn.k_down.weight",
                   ".mlp.up.weight", ".mlp.down.weight")


def newton_schulz(g: Tensor, steps: int = 5) -> Tensor:
    """The orthogonal polar factor of ``g``, approximately (quintic iteration, as in Muon)."""
    a, b, c = NS_COEFFS
    x = g.to(torch.bfloat16 if g.is_cuda else torch.float32)
    x = x / (x.norm() + 1e-7)
    transposed = x.size(0) > x.size(1)
    if transposed:
        x = x.T
    for _ in range(steps):
        m = x @ x.T
        x = a * x + (b * m + c * m @ m) @ x
    return (x.T if transposed else x).to(g.dtype)


class Muon(torch.optim.Optimizer):
    """Muon with optional row normalisation; distributed by round-robin ownership of whole matrices
    (each rank orthogonalises its own, then one SUM all-reduce of a flat update buffer)."""

    def __init__(self, params, lr: float, momentum: float, weight_decay: float = 0.0, row_normalize: bool = True,
                 steps: int = 5):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, row_normalize=row_normalize,
                                      steps=steps))

    @torch.no_grad()
    def step(self, closure=None):
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        rank = dist.get_rank() if world > 1 else 0
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            flat = torch.zeros(sum(p.numel() for p in params), device=params[0].device, dtype=torch.float32)
            offset = 0
            for i, p in enumerate(params):
                n = p.numel()
                if i % world == rank:
                    state = self.state[p]
                    buf = state.setdefault("momentum_buffer", torch.zeros_like(p.grad))
                    buf.mul_(group["momentum"]).add_(p.grad)
                    g = p.grad.add(buf, alpha=group["momentum"])  # Nesterov
                    if group["row_normalize"]:
                        g = g / g.norm(dim=1, keepdim=True).clamp_min(1e-7)
                    u = newton_schulz(g, group["steps"]) * math.sqrt(max(1.0, p.size(0) / p.size(1)))
                    flat[offset : offset + n] = u.reshape(-1).float()
                offset += n
            if world > 1:
                dist.all_reduce(flat)
            offset = 0
            for p in params:
                n = p.numel()
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(flat[offset : offset + n].view_as(p).to(p.dtype), alpha=-group["lr"])
                offset += n


class RoutingError(ValueError):
    pass


@dataclass
class Routes:
    muon: list[tuple[str, nn.Parameter]] = field(default_factory=list)
    embed: list[tuple[str, nn.Parameter]] = field(default_factory=list)
    scalar: list[tuple[str, nn.Parameter]] = field(default_factory=list)
    adapter: list[tuple[str, nn.Parameter]] = field(default_factory=list)
    unrouted: list[tuple[str, nn.Parameter]] = field(default_factory=list)

    def groups(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        return {"muon": self.muon, "embed": self.embed, "scalar": self.scalar, "adapter": self.adapter}


def route_parameters(model: nn.Module, p: Preset) -> Routes:
    a = p.model.adapters
    r = Routes()
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.startswith("adapters."):
            if a.optimizer == "adamw":
                r.adapter.append((name, param))
            elif a.optimizer == "muon" and param.dim() == 2:
                r.muon.append((name, param))
            elif a.optimizer == "muon":
                r.adapter.append((name, param))
            else:
                r.unrouted.append((name, param))
        elif name.startswith("blocks.") and name.endswith(MATRIX_PREFIXES):
            r.muon.append((name, param))
        elif name in ("tok_emb.weight", "extra_emb.weight", "bigram_table.weight", "ve_table.weight"):
            r.embed.append((name, param))
        else:
            r.scalar.append((name, param))
    return r


def build_optimizers(routes: Routes, p: Preset) -> list[torch.optim.Optimizer]:
    t, a = p.train, p.model.adapters
    opts: list[torch.optim.Optimizer] = []
    if routes.muon:
        opts.append(Muon([x for _, x in routes.muon], lr=t.matrix_lr, momentum=t.muon_momentum, weight_decay=t.muon_wd,
                         row_normalize=t.muon_row_normalize, steps=t.muon_backend_steps))
    groups = []
    if routes.embed:
        groups.append(dict(params=[x for _, x in routes.embed], lr=t.tied_embed_lr, weight_decay=t.embed_wd, name="embed"))
    if routes.scalar:
        groups.append(dict(params=[x for _, x in routes.scalar], lr=t.scalar_lr, weight_decay=t.adam_wd, name="scalar"))
    if routes.adapter:
        groups.append(dict(params=[x for _, x in routes.adapter], lr=a.lr, weight_decay=a.weight_decay, name="adapter"))
    if groups:
        opts.append(torch.optim.AdamW(groups, betas=t.betas, eps=1e-8))
    for o in opts:
        for g in o.param_groups:
            g["base_lr"] = g["lr"]
    return opts
