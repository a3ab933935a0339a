"""The reference GPT, top to bottom: attention, MLP, block, then the model that runs an execution plan.

Shapes: B batch, T sequence, D model width, H query heads, K key/value heads, Hd head width.
Every block takes its weights explicitly (``weights`` overrides) so a looped layer can run with its
per-pass merged LoRA weights while the shared base weights stay the trained parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference_model.adapters import Adapters
from reference_model.config import ModelConfig
from reference_model.layers import PartialRotary, leaky_relu2, relu2, rms_norm, softcap
from reference_model.plan import Step, build_plan, max_passes, num_skip_slots


def _observe(linear: nn.Linear, x: Tensor) -> None:
    """Calibration hook: the blocks call F.linear with (possibly merged) weights, so module hooks
    would not fire; quantization sets ``linear.observer`` to record the input instead."""
    observer = getattr(linear, "observer", None)
    if observer is not None:
        observer(x)


class Attention(nn.Module):
    """GQA attention: QK RMSNorm, partial RoPE, per-head query gain, optional XSA."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.h, self.kv, self.hd = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.q = nn.Linear(cfg.dim, cfg.dim, bias=False)
        if cfg.k_rank:  # low-rank K (#298): dim -> k_rank -> kv_dim
            self.k_down = nn.Linear(cfg.dim, cfg.k_rank, bias=False)
            self.k = nn.Linear(cfg.k_rank, cfg.kv_dim, bias=False)
        else:
            self.k_down = None
            self.k = nn.Linear(cfg.dim, cfg.kv_dim, bias=False)
        self.v = nn.Linear(cfg.dim, cfg.kv_dim, bias=False)
        self.o = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.o.zero_init = True
        self.rotary = PartialRotary(cfg.rope_dims, cfg.rope_base)

    def forward(self, x: Tensor, q_gain: Tensor, w: dict[str, Tensor], xsa: bool, v_extra: Tensor | None) -> Tensor:
        B, T, _ = x.shape
        _observe(self.q, x), _observe(self.v, x)
        q = F.linear(x, w.get("q", self.q.weight)).view(B, T, self.h, self.hd)
        if self.k_down is not None:
            _observe(self.k_down, x)
            kx = self.k_down(x)
        else:
            kx = x
        _observe(self.k, kx)
        k = F.linear(kx, w.get("k", self.k.weight)).view(B, T, self.kv, self.hd)
        v = F.linear(x, w.get("v", self.v.weight))
        if v_extra is not None:
            v = v + v_extra
        v = v.view(B, T, self.kv, self.hd)
        q, k = self.rotary(rms_norm(q)), self.rotary(rms_norm(k))
        q = q * q_gain.view(1, 1, self.h, 1).to(q.dtype)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True,
                                           enable_gqa=self.h != self.kv).transpose(1, 2)  # [B, T, H, Hd]
        if xsa:  # remove from each head's output its component along the token's own (normalised) value
            g = self.h // self.kv
            vn = F.normalize(v, dim=-1).unsqueeze(3)  # [B, T, K, 1, Hd]
            yg = y.reshape(B, T, self.kv, g, self.hd)
            y = (yg - (yg * vn).sum(-1, keepdim=True) * vn).reshape(B, T, self.h, self.hd)
        y = y.reshape(B, T, self.h * self.hd)
        _observe(self.o, y)
        return F.linear(y, w.get("o", self.o.weight))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.up = nn.Linear(cfg.dim, cfg.hidden, bias=False)
        self.down = nn.Linear(cfg.hidden, cfg.dim, bias=False)
        self.down.zero_init = True
        self.relu2 = cfg.activation == "relu2"
        self.slope = cfg.leaky_slope
        self.fused = False  # set by the trainer: Triton up-projection + LeakyReLU^2

    def forward(self, x: Tensor, w: dict[str, Tensor]) -> Tensor:
        up = w.get("up", self.up.weight)
        _observe(self.up, x)
        if self.fused and not self.relu2 and x.is_cuda:
            from reference_model.kernels.fused_mlp import fused_up_leaky_relu2

            h = fused_up_leaky_relu2(x, up, self.slope)
        else:
            h = F.linear(x, up)
            h = relu2(h) if self.relu2 else leaky_relu2(h, self.slope)
        _observe(self.down, h)
        return F.linear(h, w.get("down", self.down.weight))


class Block(nn.Module):
    """One physical layer. ``pre`` blocks: residual mix with x0, pre-norm branches scaled by learned
    vectors, optionally parallel (GPT-J). ``output`` blocks (#1096 shared): Birkhoff mix with x0 and
    RMSNorm on the branch outputs."""

    def __init__(self, cfg: ModelConfig, layer: int, output_ln: bool):
        super().__init__()
        self.layer = layer
        self.attn, self.mlp = Attention(cfg), MLP(cfg)
        self.output_ln = output_ln
        self.parallel = cfg.parallel_start is not None and layer >= cfg.parallel_start
        self.ln_scale = 1.0 / math.sqrt(layer + 1) if cfg.ln_scale and not output_ln else 1.0
        self.xsa = cfg.xsa_layers is None or layer in cfg.xsa_layers
        n = max_passes(cfg) if cfg.per_pass_controls else 1
        self.q_gain = nn.Parameter(torch.full((cfg.num_heads,), cfg.qk_gain_init))
        if output_ln:
            self.birkhoff = nn.Parameter(torch.zeros(()))
        else:
            self.attn_scale = nn.Parameter(torch.ones(n, cfg.dim).squeeze(0))
            self.mlp_scale = nn.Parameter(torch.ones(n, cfg.dim).squeeze(0))
            self.resid_mix = nn.Parameter(torch.stack([torch.ones(n, cfg.dim), torch.zeros(n, cfg.dim)], dim=-2).squeeze(0))

    def _controls(self, pass_idx: int):
        if self.attn_scale.dim() == 2:  # per-pass control vectors
            return self.attn_scale[pass_idx], self.mlp_scale[pass_idx], self.resid_mix[pass_idx]
        return self.attn_scale, self.mlp_scale, self.resid_mix

    def forward(self, x: Tensor, x0: Tensor, pass_idx: int, w: dict[str, Tensor], v_extra: Tensor | None,
                ts: tuple[Tensor, Tensor] | None) -> Tensor:
        if self.output_ln:
            mix = torch.sigmoid(self.birkhoff)
            x_in = mix * x + (1 - mix) * x0
            a = rms_norm(self.attn(x_in, self.q_gain, w, self.xsa, v_extra))
            a = a * ts[0] if ts is not None else a
            x = x_in + a
            m = rms_norm(self.mlp(x, w))
            return x + (m * ts[1] if ts is not None else m)
        a_scale, m_scale, mix = self._controls(pass_idx)
        if ts is not None:
            a_scale, m_scale = a_scale * ts[0], m_scale * ts[1]
        x_in = mix[0] * x + mix[1] * x0
        if self.parallel:
            h = rms_norm(x_in) * self.ln_scale
            return x_in + a_scale * self.attn(h, self.q_gain, w, self.xsa, v_extra) + m_scale * self.mlp(h, w)
        x = x_in + a_scale * self.attn(rms_norm(x_in) * self.ln_scale, self.q_gain, w, self.xsa, v_extra)
        return x + m_scale * self.mlp(rms_norm(x) * self.ln_scale, w)


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg.validate()
        d = cfg.dim
        self.tok_emb = nn.Embedding(cfg.vocab_size, d)
        self.extra_emb = nn.Embedding(cfg.vocab_size, d) if cfg.second_embedding else None
        self.smear = nn.Parameter(torch.zeros(d)) if cfg.smear else None
        if cfg.bigram:
            buckets, bdim = cfg.bigram
            self.bigram_table = nn.Embedding(buckets, bdim)
            self.bigram_proj = nn.Linear(bdim, d, bias=False)
            self.bigram_scale = nn.Parameter(torch.tensor(0.05))
        if cfg.value_embed:
            vdim, vlayers = cfg.value_embed
            self.ve_table = nn.Embedding(cfg.vocab_size, vdim)
            self.ve_proj = nn.Linear(vdim, cfg.kv_dim, bias=False)
            self.ve_scale = nn.Parameter(torch.tensor(1.0))
            self.ve_layer_scales = nn.Parameter(torch.ones(len(vlayers)))
        shared = range(cfg.recur.start, cfg.recur.start + cfg.recur.end) if cfg.recur.mode == "universal" else range(0)
        self.blocks = nn.ModuleList(Block(cfg, l, cfg.block_mode == "output_shared" and l in shared)
                                    for l in range(cfg.num_layers))
        slots = num_skip_slots(cfg)
        self.skip_weights = nn.Parameter(torch.ones(slots, d)) if slots else None
        self.skip_gates = nn.Parameter(torch.zeros(slots, d)) if slots and cfg.skip_mode == "gated" else None
        n_eff = len(build_plan(cfg, max_passes(cfg)))
        self.timestep = nn.Parameter(torch.ones(2, n_eff, d)) if cfg.timestep_scales else None
        self.adapters = Adapters(cfg)
        self.active_passes = 1 if cfg.recur.enable_at > 0 or cfg.recur.pass_schedule else max_passes(cfg)
        self._plans: dict[int, list[Step]] = {}
        self.jacobian_term: Tensor | None = None
        self.reset_parameters()

    # ---------------------------------------------------------------- setup

    @torch.no_grad()
    def reset_parameters(self) -> None:
        nn.init.normal_(self.tok_emb.weight, 0.0, self.cfg.tied_embed_init_std)
        if self.extra_emb is not None:
            nn.init.zeros_(self.extra_emb.weight)
        if self.cfg.bigram:
            nn.init.zeros_(self.bigram_table.weight)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                if getattr(m, "zero_init", False):
                    nn.init.zeros_(m.weight)
                elif min(m.weight.shape) >= 64:
                    nn.init.orthogonal_(m.weight)
                else:
                    nn.init.normal_(m.weight, 0.0, 1.0 / math.sqrt(m.weight.size(1)))
        self.adapters.reset_parameters()

    def set_active_passes(self, passes: int) -> None:
        self.active_passes = max(1, min(passes, max_passes(self.cfg)))

    @property
    def plan(self) -> list[Step]:
        if self.active_passes not in self._plans:
            self._plans[self.active_passes] = build_plan(self.cfg, self.active_passes)
        return self._plans[self.active_passes]

    # ---------------------------------------------------------------- forward

    def embed(self, ids: Tensor) -> Tensor:
        x = self.tok_emb(ids)
        if self.extra_emb is not None:
            x = x + self.extra_emb(ids)
        x = rms_norm(x)
        if self.cfg.bigram:
            prev = F.pad(ids[:, :-1], (1, 0))
            bucket = (prev * 36313 + ids * 27191) % self.cfg.bigram[0]
            x = x + self.bigram_scale * self.bigram_proj(self.bigram_table(bucket))
        if self.smear is not None:  # blend each position with the previous one, per channel
            prev_x = F.pad(x[:, :-1], (0, 0, 1, 0))
            x = torch.lerp(x, prev_x, torch.sigmoid(self.smear).to(x.dtype))
        return x

    def _value_extra(self, ids: Tensor, step: Step) -> Tensor | None:
        if not self.cfg.value_embed:
            return None
        layers = self.cfg.value_embed[1]
        key = step.effective if self.cfg.recur.mode == "universal" else step.layer
        if key not in layers:
            return None
        scale = self.ve_scale * self.ve_layer_scales[layers.index(key)]
        return scale * self.ve_proj(self.ve_table(ids))

    def forward_hidden(self, ids: Tensor) -> Tensor:
        cfg, ad = self.cfg, self.adapters
        x = self.embed(ids)
        x0 = x
        stack: list[Tensor] = []
        core_in = core_before = None
        self.jacobian_term = None
        plan = self.plan
        core_layers = [s for s in plan if s.core_pass is not None]
        first_core = core_layers[0].layer if core_layers else None
        last_core = core_layers[-1].layer if core_layers else None
        for step in plan:
            if step.pop is not None:
                s = stack.pop()
                w = self.skip_weights[step.pop].to(x.dtype)
                if self.skip_gates is not None:
                    x = torch.lerp(w * s, x, torch.sigmoid(self.skip_gates[step.pop]).to(x.dtype))
                else:
                    x = x + w * s
            if step.core_pass is not None and step.layer == first_core and cfg.recur.mode in ("core", "universal"):
                if step.core_pass == 0:
                    core_in = x
                else:
                    if ad.feedback_u is not None:
                        x = ad.feedback(x)
                    if cfg.adapters.pre_repeat_norm == "per_core":
                        x = rms_norm(x)
                core_before = x
            emb = ad.pass_embedding(step.layer, step.pass_idx)
            if emb is not None:
                x = x + emb.to(x.dtype)
            if step.pass_idx > 0 and cfg.adapters.pre_repeat_norm == "per_layer" and step.layer in ad.layers:
                x = rms_norm(x)
            ts = (self.timestep[0, step.effective].clamp(-4, 4), self.timestep[1, step.effective].clamp(-4, 4)) \
                if self.timestep is not None else None
            block = self.blocks[step.layer]
            x = block(x, x0, step.pass_idx, ad.merged(block, step.layer, step.pass_idx), self._value_extra(ids, step), ts)
            if step.core_pass is not None and step.layer == last_core and cfg.recur.mode in ("core", "universal"):
                if ad.resid_scale is not None and step.core_pass > 0:
                    x = core_before + ad.resid_scale[step.core_pass] * (x - core_before)
                if step.core_pass == self.active_passes - 1 and core_in is not None and cfg.adapters.jacobian_weight:
                    ratio = (x - core_in).float().norm() / core_in.float().norm().clamp_min(1e-6)
                    self.jacobian_term = cfg.adapters.jacobian_weight * F.relu(ratio - 1).square()
            if step.push:
                stack.append(x)
        return rms_norm(x)

    def forward_logits(self, ids: Tensor) -> Tensor:
        h = self.forward_hidden(ids)
        return softcap(F.linear(h, self.tok_emb.weight.to(h.dtype)).float(), self.cfg.logit_softcap)

    def forward(self, ids: Tensor, targets: Tensor, fused_ce: bool = False) -> Tensor:
        """Mean cross-entropy (plus the Jacobian proxy term when configured)."""
        h = self.forward_hidden(ids)
        logits = F.linear(h, self.tok_emb.weight.to(h.dtype))
        if fused_ce and h.is_cuda:  # softcap + CE streamed over the vocabulary, no fp32 copy of the logits
            from reference_model.kernels.fused_ce import fused_softcap_cross_entropy

            loss = fused_softcap_cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                               self.cfg.logit_softcap)
        else:
            logits = softcap(logits.float(), self.cfg.logit_softcap)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        if self.jacobian_term is not None and self.training:
            loss = loss + self.jacobian_term
        return loss

    # ---------------------------------------------------------------- harness evaluation protocol

    def output_head(self):
        from harness.engine.protocol import OutputHead

        return OutputHead(self.tok_emb.weight, None, self.cfg.logit_softcap)

    def lora_targets(self) -> dict[str, nn.Linear]:
        return {f"blocks.{b.layer}.attn.{n}": getattr(b.attn, n) for b in self.blocks for n in ("q", "v")}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
