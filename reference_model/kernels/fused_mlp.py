"""MLP up-projection fused with LeakyReLU(slope)^2: h = act(x @ W^T) without writing x @ W^T.

Forward: a tiled matmul whose epilogue applies the activation. Backward: the same matmul
recomputes the pre-activation z tile by tile and its epilogue writes dz = dh * act'(z) (act'(z) =
2z for z > 0, 2 slope^2 z otherwise); dx = dz @ W and dW = dz^T @ x are plain matmuls. So neither
pass stores the [tokens, hidden] pre-activation.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _up_act_kernel(x_ptr, w_ptr, g_ptr, out_ptr, M, N, K, slope,
                   sxm, sxk, swn, swk, sgm, sgn, som, son,
                   BACKWARD: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BM + tl.arange(0, BM)
    rn = pid_n * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k0 in range(0, K, BK):
        kk = k0 + rk
        a = tl.load(x_ptr + rm[:, None] * sxm + kk[None, :] * sxk, mask=(rm[:, None] < M) & (kk[None, :] < K), other=0.0)
        b = tl.load(w_ptr + rn[None, :] * swn + kk[:, None] * swk, mask=(rn[None, :] < N) & (kk[:, None] < K), other=0.0)
        acc += tl.dot(a, b)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    pos = acc > 0
    if BACKWARD:
        g = tl.load(g_ptr + rm[:, None] * sgm + rn[None, :] * sgn, mask=mask, other=0.0).to(tl.float32)
        out = g * tl.where(pos, 2.0 * acc, 2.0 * slope * slope * acc)
    else:
        out = tl.where(pos, acc * acc, slope * slope * acc * acc)
    tl.store(out_ptr + rm[:, None] * som + rn[None, :] * son, out.to(out_ptr.dtype.element_ty), mask=mask)


def _launch(x: torch.Tensor, w: torch.Tensor, slope: float, grad: torch.Tensor | None) -> torch.Tensor:
    M, K = x.shape
    N = w.shape[0]
    out = torch.empty((M, N), device=x.device, dtype=x.dtype)
    BM, BN, BK = (64, 64, 32) if x.is_cuda else (16, 16, 16)
    g = grad if grad is not None else out
    grid = (triton.cdiv(M, BM), triton.cdiv(N, BN))
    _up_act_kernel[grid](x, w, g, out, M, N, K, float(slope), x.stride(0), x.stride(1), w.stride(0), w.stride(1),
                         g.stride(0), g.stride(1), out.stride(0), out.stride(1), BACKWARD=grad is not None,
                         BM=BM, BN=BN, BK=BK)
    return out


class _FusedUpLeakyReLU2(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x2d, w, slope):
        ctx.save_for_backward(x2d, w)
        ctx.slope = slope
        return _launch(x2d, w, slope, None)

    @staticmethod
    def backward(ctx, grad_h):
        x2d, w = ctx.saved_tensors
        dz = _launch(x2d, w, ctx.slope, grad_h.contiguous())
        return dz @ w, dz.t() @ x2d, None


def fused_up_leaky_relu2(x: torch.Tensor, w: torch.Tensor, slope: float) -> torch.Tensor:
    """act(x @ w^T) for x [..., K], w [N, K]; differentiable in x and w."""
    shape = x.shape
    w = w.to(x.dtype)
    h = _FusedUpLeakyReLU2.apply(x.reshape(-1, shape[-1]).contiguous(), w.contiguous(), slope)
    return h.reshape(*shape[:-1], w.shape[0])


def reference_up_leaky_relu2(x: torch.Tensor, w: torch.Tensor, slope: float) -> torch.Tensor:
    return torch.nn.functional.leaky_relu(x @ w.t(), slope).square()
