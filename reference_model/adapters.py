"""Per-pass specialisation of looped layers: LoRA factor sets, pass-index embeddings, per-pass
residual scales and low-rank error feedback.

LoRA is applied in weight space: for target t of physical layer l on pass p the block runs with
W_eff = W + c * B @ A, with A in R^{r x in}, B in R^{out x r}, c = alpha (learnable or fixed) or 1.
One rank-r product per target and pass costs far less than applying the adapter to every token,
and autograd gives dA and dB from the same dW_eff. A *slot* is the adapter set a pass uses: its own
per pass, or one shared by every repeat (#1552).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from reference_model.config import ModelConfig
from reference_model.plan import max_passes

TARGET_SHAPES = {  # target -> (module attribute path inside a block, out features, in features)
    "q": ("attn.q", "dim", "dim"),
    "k": ("attn.k", "kv_dim", "dim"),
    "v": ("attn.v", "kv_dim", "dim"),
    "o": ("attn.o", "dim", "dim"),
    "up": ("mlp.up", "hidden", "dim"),
    "down": ("mlp.down", "dim", "hidden"),
}


def adapted_layers(cfg: ModelConfig) -> tuple[int, ...]:
    a, r = cfg.adapters, cfg.recur
    if a.lora_layers:
        return tuple(a.lora_layers)
    if r.mode == "segment":
        return tuple(range(r.start, r.end + 1))
    if r.mode == "per_layer":
        return tuple(r.layers)
    if r.mode == "core":
        return tuple(range(r.start, r.end))
    return ()


class Adapters(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        a = cfg.adapters
        self.layers = adapted_layers(cfg) if (a.lora_targets or a.pass_embed) else ()
        self.passes = max_passes(cfg)
        self.lora = nn.ParameterDict()
        self.alpha = nn.ParameterDict()
        dims = {"dim": cfg.dim, "kv_dim": cfg.kv_dim, "hidden": cfg.hidden}
        if a.lora_targets:
            for l in self.layers:
                for slot in self.slots():
                    for t in a.lora_targets:
                        _, out_key, in_key = TARGET_SHAPES[t]
                        out_f, in_f = dims[out_key], dims[in_key]
                        self.lora[f"{l}_{slot}_{t}_A"] = nn.Parameter(torch.empty(a.rank, in_f))
                        self.lora[f"{l}_{slot}_{t}_B"] = nn.Parameter(torch.empty(out_f, a.rank))
                    if a.alpha_init is not None:
                        self.alpha[f"{l}_{slot}"] = nn.Parameter(torch.tensor(float(a.alpha_init)),
                                                                 requires_grad=a.alpha_learnable)
        n_repeats = self.passes - 1
        self.pass_embed = (nn.Parameter(torch.zeros(len(self.layers), n_repeats, cfg.dim))
                           if a.pass_embed and self.layers and n_repeats else None)
        self.resid_scale = nn.Parameter(torch.full((self.passes,), a.resid_scale_init)) if a.resid_scale else None
        if a.feedback_rank:
            self.feedback_u = nn.Parameter(torch.empty(cfg.dim, a.feedback_rank))
            self.feedback_v = nn.Parameter(torch.empty(cfg.dim, a.feedback_rank))
            self.feedback_d = nn.Parameter(torch.empty(cfg.dim))
        else:
            self.feedback_u = self.feedback_v = self.feedback_d = None
        self.reset_parameters()

    def slots(self) -> list[int]:
        a = self.cfg.adapters
        first = 0 if a.first_pass else 1
        if a.share_passes:
            return [0]
        return list(range(first, self.passes))

    def slot_for(self, layer: int, pass_idx: int) -> int | None:
        a = self.cfg.adapters
        if layer not in self.layers or not a.lora_targets:
            return None
        if pass_idx == 0 and not a.first_pass:
            return None
        return 0 if a.share_passes else pass_idx

    @torch.no_grad()
    def reset_parameters(self) -> None:
        a = self.cfg.adapters
        for name, p in self.lora.items():
            is_a = name.endswith("_A")
            if a.init == "warm":
                p.normal_(0.0, a.warm_std)
            elif is_a:  # zero_b and vec: A ~ N(0, 1/in), B = 0 (trainable from step 0, no zero saddle)
                p.normal_(0.0, 1.0 / math.sqrt(p.size(1)))
            else:
                p.zero_()
        if self.feedback_u is not None:
            if a.feedback_zero_init:
                for p in (self.feedback_u, self.feedback_v, self.feedback_d):
                    p.zero_()
            else:
                self.feedback_u.normal_(0.0, 1e-3)
                self.feedback_v.normal_(0.0, 1e-3)
                self.feedback_d.fill_(1.0)

    def merged(self, block: nn.Module, layer: int, pass_idx: int) -> dict[str, Tensor]:
        """target -> effective weight for this layer and pass (only targets with an adapter)."""
        slot = self.slot_for(layer, pass_idx)
        if slot is None:
            return {}
        out = {}
        scale = self.alpha.get(f"{layer}_{slot}") if len(self.alpha) else None
        for t in self.cfg.adapters.lora_targets:
            path = TARGET_SHAPES[t][0].split(".")
            base = getattr(getattr(block, path[0]), path[1]).weight
            delta = self.lora[f"{layer}_{slot}_{t}_B"] @ self.lora[f"{layer}_{slot}_{t}_A"]
            out[t] = base + (scale * delta if scale is not None else delta).to(base.dtype)
        return out

    def pass_embedding(self, layer: int, pass_idx: int) -> Tensor | None:
        if self.pass_embed is None or pass_idx == 0 or layer not in self.layers:
            return None
        return self.pass_embed[self.layers.index(layer), pass_idx - 1]

    def feedback(self, h: Tensor) -> Tensor:
        return h + self.feedback_d * ((h @ self.feedback_v) @ self.feedback_u.T)
