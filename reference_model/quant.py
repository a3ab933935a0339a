"""Post-training quantization: Hessians from calibration batches, SDClip scales, GPTQ, RTN fallback.

Matrices above the passthrough size are stored as signed integers with one fp16 scale per row:
int6 (R = 31) for the blocks' matrices, int8 (R = 127) for the embedding. The SDClip scale is
s = k * std(row) / R. GPTQ quantizes columns in order of decreasing Hessian diagonal and pushes
each column's rounding error onto the columns not yet quantized. Hessians sum every call of a
layer, so a looped layer's quantization error is weighted by all its passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from reference_model.config import QuantConfig

BLOCK_LINEARS = ("attn.q", "attn.k", "attn.v", "attn.o", "attn.k_down", "mlp.up", "mlp.down")


@dataclass
class HessianRecorder:
    hessians: dict[str, Tensor] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def observe(self, name: str, x: Tensor) -> None:
        x = x.detach().reshape(-1, x.size(-1)).float()
        h = x.T @ x
        self.hessians[name] = self.hessians[name] + h if name in self.hessians else h
        self.calls[name] = self.calls.get(name, 0) + 1


def block_linears(model: nn.Module, min_numel: int) -> dict[str, nn.Linear]:
    out = {}
    for b in model.blocks:
        for path in BLOCK_LINEARS:
            owner, attr = path.split(".")
            lin = getattr(getattr(b, owner), attr, None)
            if isinstance(lin, nn.Linear) and lin.weight.numel() > min_numel:
                out[f"blocks.{b.layer}.{path}.weight"] = lin
    return out


@torch.no_grad()
def collect_hessians(model: nn.Module, batches: list[Tensor], qcfg: QuantConfig) -> HessianRecorder:
    """Run ``batches`` through the model (final plan) and sum X^T X at every quantized linear's input;
    the tied embedding gets the final-norm output's Hessian (the output projection's input)."""
    rec = HessianRecorder()
    linears = block_linears(model, qcfg.passthrough_max_numel)
    for name, lin in linears.items():
        lin.observer = (lambda n: (lambda x: rec.observe(n, x)))(name)
    try:
        for ids in batches:
            h = model.forward_hidden(ids)
            rec.observe("tok_emb.weight", h)
    finally:
        for lin in linears.values():
            lin.observer = None
    n = max(1, len(batches))
    for k in rec.hessians:
        rec.hessians[k] /= n
    return rec


def expected_calls(model: nn.Module, batches: int, qcfg: QuantConfig) -> dict[str, int]:
    runs = {}
    for step in model.plan:
        runs[step.layer] = runs.get(step.layer, 0) + 1
    return {name: runs.get(int(name.split(".")[1]), 0) * batches for name in block_linears(model, qcfg.passthrough_max_numel)}


def sdclip_scale(w: Tensor, k: float, r: int) -> Tensor:
    return (k * w.float().std(dim=1, unbiased=False) / r).clamp_min(1e-8)


def quantize_rtn(w: Tensor, scale: Tensor, r: int) -> Tensor:
    return torch.clamp(torch.round(w.float() / scale[:, None]), -r, r).to(torch.int8)


def quantize_gptq(w: Tensor, h: Tensor, scale: Tensor, r: int, block: int = 128, damp: float = 0.01) -> Tensor:
    w = w.float().clone()
    h = h.float().clone()
    n = w.size(1)
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += damp * torch.diag(h).mean() * torch.eye(n, device=h.device)
    perm = torch.argsort(torch.diag(h), descending=True)
    inv_perm = torch.argsort(perm)
    w, h = w[:, perm], h[perm][:, perm]
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    s = scale[:, None]
    for i1 in range(0, n, block):
        i2 = min(i1 + block, n)
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        hinv1 = hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = w1[:, i]
            qc = torch.clamp(torch.round(col / s[:, 0]), -r, r)
            q[:, i1 + i] = qc
            e = (col - qc * s[:, 0]) / hinv1[i, i]
            w1[:, i:] -= e[:, None] * hinv1[i, i:][None, :]
            err1[:, i] = e
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    return q[:, inv_perm].to(torch.int8)


def quantize_state(model: nn.Module, qcfg: QuantConfig, hessians: dict[str, Tensor] | None = None,
                   log=lambda msg: None) -> dict[str, dict]:
    """name -> {"q", "scale", "bits"} for quantized matrices or {"passthrough": tensor} (fp16 for floats)."""
    out: dict[str, dict] = {}
    hessians = hessians or {}
    matrices = set(block_linears(model, qcfg.passthrough_max_numel))
    for name, t in model.state_dict().items():
        t = t.detach().cpu()
        if not t.is_floating_point() or t.dim() != 2 or t.numel() <= qcfg.passthrough_max_numel:
            out[name] = {"passthrough": t.half() if t.is_floating_point() else t}
            continue
        is_matrix = name in matrices
        bits = qcfg.matrix_bits if is_matrix else qcfg.embed_bits
        k = qcfg.matrix_clip_sigmas if is_matrix else qcfg.embed_clip_sigmas
        r = 2 ** (bits - 1) - 1
        scale = sdclip_scale(t, k, r)
        q = None
        if qcfg.gptq and name in hessians:
            try:
                q = quantize_gptq(t, hessians[name].cpu(), scale, r)
            except torch.linalg.LinAlgError:
                log(f"gptq: {name}: Hessian not positive definite; rounding to nearest")
        if q is None:
            q = quantize_rtn(t, scale, r)
        out[name] = {"q": q, "scale": scale.half(), "bits": bits}
    return out


def dequantize_state(qstate: dict[str, dict], template: dict[str, Tensor]) -> dict[str, Tensor]:
    out = {}
    for name, ref in template.items():
        e = qstate[name]
        if "passthrough" in e:
            out[name] = e["passthrough"].to(ref.dtype)
        else:
            out[name] = (e["q"].float() * e["scale"].float()[:, None]).to(ref.dtype)
    return out
