"""Softcapped cross-entropy over bf16 logits without an fp32 copy of the logits.

Forward: per row, stream the vocabulary in blocks, apply z = cap * tanh(l / cap) and keep a running
max and sum (log-sum-exp); loss = lse - z[target]. Backward recomputes z and writes
dl = (softmax(z) - onehot(target)) * (1 - tanh^2(l / cap)) * dloss / rows in the logits' dtype.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _tanh(x):
    e = tl.exp(-2.0 * tl.abs(x))
    t = (1.0 - e) / (1.0 + e)
    return tl.where(x >= 0, t, -t)


@triton.jit
def _ce_fwd_kernel(l_ptr, t_ptr, loss_ptr, lse_ptr, V, stride, cap, BV: tl.constexpr):
    row = tl.program_id(0)
    base = l_ptr + row * stride
    target = tl.load(t_ptr + row)
    m = -float("inf")
    s = 0.0
    zt = 0.0
    for v0 in range(0, V, BV):
        cols = v0 + tl.arange(0, BV)
        mask = cols < V
        l = tl.load(base + cols, mask=mask, other=0.0).to(tl.float32)
        z = cap * _tanh(l / cap)
        z = tl.where(mask, z, -float("inf"))
        m_new = tl.maximum(m, tl.max(z, 0))
        s = s * tl.exp(m - m_new) + tl.sum(tl.exp(z - m_new), 0)
        m = m_new
        zt += tl.sum(tl.where(cols == target, z, 0.0), 0)
    lse = m + tl.log(s)
    tl.store(lse_ptr + row, lse)
    tl.store(loss_ptr + row, lse - zt)


@triton.jit
def _ce_bwd_kernel(l_ptr, t_ptr, lse_ptr, g_ptr, d_ptr, V, stride, cap, scale, BV: tl.constexpr):
    row = tl.program_id(0)
    base = l_ptr + row * stride
    target = tl.load(t_ptr + row)
    lse = tl.load(lse_ptr + row)
    g = tl.load(g_ptr) * scale
    for v0 in range(0, V, BV):
        cols = v0 + tl.arange(0, BV)
        mask = cols < V
        l = tl.load(base + cols, mask=mask, other=0.0).to(tl.float32)
        th = _tanh(l / cap)
        p = tl.exp(cap * th - lse)
        d = (p - tl.where(cols == target, 1.0, 0.0)) * (1.0 - th * th) * g
        tl.store(d_ptr + row * stride + cols, d.to(d_ptr.dtype.element_ty), mask=mask)


class _SoftcapCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, targets, cap):
        R, V = logits.shape
        loss = torch.empty(R, device=logits.device, dtype=torch.float32)
        lse = torch.empty(R, device=logits.device, dtype=torch.float32)
        BV = 1024 if logits.is_cuda else 64
        _ce_fwd_kernel[(R,)](logits, targets, loss, lse, V, logits.stride(0), float(cap), BV=BV)
        ctx.save_for_backward(logits, targets, lse)
        ctx.cap, ctx.bv = cap, BV
        return loss.mean()

    @staticmethod
    def backward(ctx, grad):
        logits, targets, lse = ctx.saved_tensors
        R, V = logits.shape
        d = torch.empty_like(logits)
        _ce_bwd_kernel[(R,)](logits, targets, lse, grad.float().contiguous(), d, V, logits.stride(0), float(ctx.cap),
                             1.0 / R, BV=ctx.bv)
        return d, None, None


def fused_softcap_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, cap: float) -> torch.Tensor:
    """Mean over rows of CE(cap * tanh(logits / cap), targets); logits [R, V] (any float dtype)."""
    return _SoftcapCE.apply(logits.contiguous(), targets.contiguous().to(torch.int64), cap)


def reference_softcap_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, cap: float) -> torch.Tensor:
    z = cap * torch.tanh(logits.float() / cap)
    return torch.nn.functional.cross_entropy(z, targets)
