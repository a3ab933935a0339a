"""Adapters train once looping is on, the invariants catch each seed bug, Muon, quantization and the artifact."""

import pytest
import torch

from reference_model import invariants as inv
from reference_model.config import apply_overrides, preset
from reference_model.export import byte_shuffle, byte_unshuffle, deserialize, serialize
from reference_model.gpt import GPT
from reference_model.optim import Muon, build_optimizers, newton_schulz, route_parameters
from reference_model.quant import (collect_hessians, dequantize_state, expected_calls, quantize_gptq, quantize_rtn,
                                   quantize_state, sdclip_scale)
from reference_model.train import all_reduce_grads


def trained_like(name="tiny_cpu", **over):
    """A model whose zero-initialised projections are perturbed, as after some training."""
    p = apply_overrides(preset(name), [f"{k}={v}" for k, v in over.items()])
    torch.manual_seed(0)
    model = GPT(p.model)
    with torch.no_grad():
        for n, q in model.named_parameters():
            if not n.startswith("adapters."):
                q.add_(torch.randn_like(q) * 0.05)
    return p, model


def test_adapter_and_pass_embedding_gradients_once_looping_is_on():
    p, model = trained_like()
    ids = torch.randint(0, 512, (2, 32))
    model.set_active_passes(1)
    model(ids, ids).backward()
    adapter_params = dict(model.adapters.named_parameters())
    assert all(q.grad is None for q in adapter_params.values())  # absent from the non-looping graph
    all_reduce_grads(model, 1)
    assert all(q.grad is not None and not q.grad.any() for q in adapter_params.values())  # zero-filled
    model.zero_grad(set_to_none=True)
    model.set_active_passes(3)
    model(ids, ids).backward()
    missing = [n for n, q in adapter_params.items() if q.grad is None or not q.grad.any()]
    # zero_b init: B = 0, so dA = B^T dW and d(alpha) = <dW, BA> are zero at the first step; B and the
    # pass embeddings must move (test_a_factors_train_after_one_step covers A and alpha)
    assert all(n.endswith("_A") or n.startswith("alpha.") for n in missing), missing
    assert adapter_params["pass_embed"].grad.abs().sum() > 0
    assert all(adapter_params[n].grad.abs().sum() > 0 for n in adapter_params if n.endswith("_B"))


def test_a_factors_train_after_one_step():
    p, model = trained_like()
    routes = route_parameters(model, p)
    opts = build_optimizers(routes, p)
    model.set_active_passes(3)
    ids = torch.randint(0, 512, (2, 32))
    for _ in range(2):
        model(ids, ids).backward()
        for o in opts:
            o.step()
        model.zero_grad(set_to_none=True)
    model(ids, ids).backward()
    a = [q for n, q in model.adapters.named_parameters() if n.endswith("_A") or n.startswith("alpha.")]
    assert a and all(q.grad.abs().sum() > 0 for q in a)


def test_routing_puts_every_parameter_in_one_group():
    p, model = trained_like()
    routes = route_parameters(model, p)
    inv.check_routing(model, routes)
    groups = routes.groups()
    assert {n for n, _ in groups["adapter"]} == {n for n, _ in model.named_parameters() if n.startswith("adapters.")}
    assert all(q.dim() == 2 for _, q in groups["muon"])
    assert [n for n, _ in groups["embed"]] == ["tok_emb.weight"]


# ------------------------------------------------------------------ one test per seed bug

def test_bug_adapters_in_no_optimizer_1181_1552():
    p = apply_overrides(preset("tiny_cpu"), ["adapters.optimizer=none"])
    model = GPT(p.model)
    with pytest.raises(inv.InvariantError, match="in no optimizer group"):
        inv.check_routing(model, route_parameters(model, p))


def test_bug_recurrence_never_switches_on_1552():
    with pytest.raises(inv.InvariantError, match="never switches it on"):
        inv.check_recurrence_schedule(preset("pr1552_asis"))
    inv.check_recurrence_schedule(preset("pr1552_fixed"))


def test_bug_adapters_on_muon_1096():
    p = apply_overrides(preset("tiny_cpu"), ["adapters.optimizer=muon"])
    model = GPT(p.model)
    with pytest.raises(inv.InvariantError, match="routed to Muon"):
        inv.check_routing(model, route_parameters(model, p))


def test_bug_all_zero_feedback_1230():
    p = apply_overrides(preset("tiny_cpu"), ["recur.mode=core", "recur.start=2", "recur.end=4", "adapters.feedback_rank=2",
                                              "adapters.feedback_zero_init=1", "adapters.lora_targets=()",
                                              "adapters.pass_embed=0"])
    with pytest.raises(inv.InvariantError, match="feedback"):
        inv.check_adapter_init(GPT(p.model))
    ok = apply_overrides(preset("tiny_cpu"), ["recur.mode=core", "recur.start=2", "recur.end=4", "adapters.feedback_rank=2"])
    inv.check_adapter_init(GPT(ok.model))


def test_bug_all_zero_lora_factors():
    model = GPT(preset("tiny_cpu").model)
    with torch.no_grad():
        for q in model.adapters.lora.values():
            q.zero_()
    with pytest.raises(inv.InvariantError, match="both factors start at zero"):
        inv.check_adapter_init(model)


def test_bug_reporting_the_pre_quantization_model_298():
    model = GPT(preset("tiny_cpu").model)
    with pytest.raises(inv.InvariantError, match="deserialized from the artifact"):
        inv.check_from_artifact(model)


def test_bug_hessian_of_the_last_call_only_1552():
    _, model = trained_like()
    model.set_active_passes(3)
    qcfg = preset("tiny_cpu").quant
    rec = collect_hessians(model, [torch.randint(0, 512, (2, 16))], qcfg)
    inv.check_hessian_calls(rec.calls, expected_calls(model, 1, qcfg))
    assert rec.calls["blocks.2.attn.q.weight"] == 3 and rec.calls["blocks.0.attn.q.weight"] == 1
    last_call_only = {k: 1 for k in rec.calls}
    with pytest.raises(inv.InvariantError, match="missed executions"):
        inv.check_hessian_calls(last_call_only, expected_calls(model, 1, qcfg))


def test_bug_over_the_cap_1552():
    inv.check_size(15_990_000, 10_000)
    with pytest.raises(inv.InvariantError, match="exceeds"):
        inv.check_size(15_990_000, 10_001)


def test_bug_recurrence_inactive_at_the_end():
    p = preset("tiny_cpu")
    model = GPT(p.model)
    with pytest.raises(inv.InvariantError, match="active passes"):
        inv.check_active_at_end(model, p)


# ------------------------------------------------------------------ optimizer and quantization

def test_muon_update_ignores_gradient_scale():
    """Why split learning rates on slices are a no-op under Muon: the update is scale invariant."""
    torch.manual_seed(0)
    g = torch.randn(32, 64)
    a, b = newton_schulz(g), newton_schulz(g * 17.0)
    assert torch.allclose(a, b, atol=1e-5)
    w1, w2 = torch.nn.Parameter(torch.zeros(32, 64)), torch.nn.Parameter(torch.zeros(32, 64))
    for w, scale in ((w1, 1.0), (w2, 100.0)):
        opt = Muon([w], lr=0.1, momentum=0.0)
        w.grad = g * scale
        opt.step()
    assert torch.allclose(w1, w2, atol=1e-5)


def test_gptq_beats_round_to_nearest_on_correlated_inputs():
    torch.manual_seed(0)
    x = torch.randn(2048, 64) @ torch.randn(64, 64)  # correlated features
    w = torch.randn(48, 64)
    h = x.T @ x / x.size(0)
    scale = sdclip_scale(w, 12.85, 31)
    err = lambda q: ((x @ (w - q.float() * scale[:, None]).T) ** 2).mean()
    assert err(quantize_gptq(w, h, scale, 31)) < err(quantize_rtn(w, scale, 31))


def test_artifact_round_trip_is_exact():
    _, model = trained_like()
    qcfg = preset("tiny_cpu").quant
    qstate = quantize_state(model, qcfg)
    blob = serialize(qstate, {"preset": "tiny_cpu"}, "lzma")
    back, meta = deserialize(blob)
    assert meta == {"preset": "tiny_cpu"}
    for name, e in qstate.items():
        for k, t in e.items():
            if isinstance(t, torch.Tensor):
                assert torch.equal(t, back[name][k]), name
    sd = dequantize_state(back, model.state_dict())
    assert sd.keys() == model.state_dict().keys()
    assert serialize(back, meta, "lzma") == blob  # deterministic bytes


@pytest.mark.parametrize("n", [0, 1, 7, 8, 1001])
def test_byte_shuffle_round_trip(n):
    data = bytes(range(256)) * 4
    data = data[:n]
    assert byte_unshuffle(byte_shuffle(data)) == data
