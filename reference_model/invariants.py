"""Start-up and hand-off checks that turn the seed submissions' bugs into errors.

Each check names what it read, what it expected and what it found. The trainer calls them; the
tests show each one catching the bug it exists for.
"""

from __future__ import annotations

from torch import nn

from reference_model.config import Preset
from reference_model.optim import Routes
from reference_model.plan import max_passes

CAP_BYTES = 16_000_000


class InvariantError(RuntimeError):
    pass


def check_routing(model: nn.Module, routes: Routes) -> None:
    """Every trainable parameter is in exactly one optimizer group; adapters are never on Muon."""
    if routes.unrouted:
        names = ", ".join(n for n, _ in routes.unrouted[:6])
        raise InvariantError(f"{len(routes.unrouted)} trainable parameter(s) are in no optimizer group ({names}); "
                             "they would stay at their initial values (#1181/#1552)")
    seen: dict[int, str] = {}
    for group, items in routes.groups().items():
        for name, p in items:
            if id(p) in seen:
                raise InvariantError(f"parameter {name} is in two optimizer groups ({seen[id(p)]} and {group})")
            seen[id(p)] = group
    missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in seen]
    if missing:
        raise InvariantError(f"trainable parameters missing from every group: {missing[:6]}")
    on_muon = [n for n, _ in routes.muon if n.startswith("adapters.")]
    if on_muon:
        raise InvariantError(f"adapter factors routed to Muon ({on_muon[:4]}): Muon's aspect-ratio scale makes B's steps "
                             "~sqrt(out/r) times A's and the product runs away (#1096); use AdamW")


def check_recurrence_schedule(p: Preset) -> None:
    """Configured recurrence must switch on before training ends."""
    r = p.model.recur
    if r.mode == "none" or max_passes(p.model) == 1:
        return
    if r.pass_schedule:
        reach = max(n for _, n in r.pass_schedule if _ < 1.0) if any(f < 1.0 for f, _ in r.pass_schedule) else 1
        if reach < (r.eval_passes or max_passes(p.model)):
            raise InvariantError(f"the pass schedule {r.pass_schedule} never reaches {r.eval_passes or max_passes(p.model)} "
                                 "passes before training ends")
    elif r.enable_at >= 1.0:
        raise InvariantError(f"recurrence ({r.mode}, {max_passes(p.model)} passes) is configured but enable_at="
                             f"{r.enable_at} never switches it on: the run would train a plain model (#1552)")


def check_active_at_end(model, p: Preset) -> None:
    want = p.model.recur.eval_passes or max_passes(p.model)
    if model.active_passes != want:
        raise InvariantError(f"training ended with {model.active_passes} active passes; the configuration evaluates with {want}")


def check_adapter_init(model) -> None:
    """No adapter or feedback module with every factor zero (its gradient would be zero forever)."""
    ad = model.adapters
    keys = {k.rsplit("_", 1)[0] for k in ad.lora.keys()}
    for k in sorted(keys):
        a, b = ad.lora[f"{k}_A"], ad.lora[f"{k}_B"]
        if not a.detach().any() and not b.detach().any():
            raise InvariantError(f"LoRA {k}: both factors start at zero, so neither ever gets a gradient")
    if ad.feedback_u is not None:
        zero = sum(not t.detach().any() for t in (ad.feedback_u, ad.feedback_v, ad.feedback_d))
        if zero >= 2:  # d * U(V^T h): with two factors zero every gradient is zero too
            raise InvariantError("error feedback starts with its factors zero: it outputs 0 and never trains (#1230)")


def check_from_artifact(model) -> None:
    """The reported number is computed on the model rebuilt from the written artifact (not #298's pre-quant)."""
    if not getattr(model, "loaded_from_artifact", False):
        raise InvariantError("the final score must be computed on the model deserialized from the artifact "
                             "(the pre-quantization model is not what the submission ships)")


def check_hessian_calls(calls: dict[str, int], expected: dict[str, int]) -> None:
    """A layer executed k times per forward must contribute k inputs per calibration batch."""
    wrong = {n: (calls.get(n, 0), e) for n, e in expected.items() if calls.get(n, 0) != e}
    if wrong:
        sample = ", ".join(f"{n}: {c} of {e}" for n, (c, e) in list(wrong.items())[:4])
        raise InvariantError(f"GPTQ Hessians missed executions of shared layers ({sample}); a repeated layer must "
                             "accumulate every pass (#1552 captured only the last call)")


def check_size(model_bytes: int, code_bytes: int, cap: int = CAP_BYTES) -> None:
    total = model_bytes + code_bytes
    if total > cap:
        raise InvariantError(f"artifact {model_bytes:,} + code {code_bytes:,} = {total:,} bytes exceeds {cap:,}")
