"""Triton kernels against their PyTorch references (run under TRITON_INTERPRET=1 on CPU; conftest sets it)."""

import pytest
import torch

triton = pytest.importorskip("triton")

from reference_model.kernels.fused_ce import fused_softcap_cross_entropy, reference_softcap_cross_entropy  # noqa: E402
from reference_model.kernels.fused_mlp import fused_up_leaky_relu2, reference_up_leaky_relu2  # noqa: E402


@pytest.mark.parametrize("shape", [(2, 9, 24, 40), (1, 33, 16, 20)])
@pytest.mark.parametrize("slope", [0.5, 0.9])
def test_fused_mlp_forward_and_backward(shape, slope):
    torch.manual_seed(0)
    b, t, k, n = shape
    x = torch.randn(b, t, k, requires_grad=True)
    w = torch.randn(n, k, requires_grad=True)
    out = fused_up_leaky_relu2(x, w, slope)
    ref = reference_up_leaky_relu2(x, w, slope)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-3)
    g = torch.randn_like(out)
    gx, gw = torch.autograd.grad((out * g).sum(), (x, w))
    rx, rw = torch.autograd.grad((ref * g).sum(), (x, w))
    torch.testing.assert_close(gx, rx, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(gw, rw, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("rows,vocab", [(5, 64), (37, 150), (8, 1000)])
def test_fused_softcap_ce_forward_and_backward(rows, vocab):
    torch.manual_seed(1)
    logits = (torch.randn(rows, vocab) * 25).requires_grad_()
    targets = torch.randint(0, vocab, (rows,))
    out = fused_softcap_cross_entropy(logits, targets, 30.0)
    ref = reference_softcap_cross_entropy(logits, targets, 30.0)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    (g,) = torch.autograd.grad(out * 3.0, logits)
    (r,) = torch.autograd.grad(ref * 3.0, logits)
    torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-6)


def test_model_uses_the_fused_paths_only_on_gpu():
    """On CPU the flags fall back to the PyTorch path (the kernels are for CUDA); the loss is unchanged."""
    from reference_model.config import preset
    from reference_model.gpt import GPT

    torch.manual_seed(0)
    model = GPT(preset("tiny_cpu").model)
    ids = torch.randint(0, 512, (2, 16))
    base = model(ids, ids)
    for b in model.blocks:
        b.mlp.fused = True
    assert torch.equal(model(ids, ids, fused_ce=True), base)
