"""Configuration of the reference model: dataclasses, named presets and validation.

Presets reproduce the seed submissions' architectures (docs/reference_model.md): ``pr1493`` is the
base stack, ``pr1552_fixed`` the recommended competition configuration (#1493 plus per-pass LoRA
and pass embeddings that actually train), the others the seeds as far as the design scopes them,
and ``tiny_cpu`` a model small enough for tests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class RecurConfig:
    mode: str = "none"  # none | segment | per_layer | core | universal | full
    start: int = 0  # segment/core: first looped physical layer (universal: number of prelude layers)
    end: int = -1  # segment: last looped layer (inclusive); core: end exclusive; universal: shared count
    num_loops: int = 0  # extra passes (segment/per_layer/core/full: total passes = num_loops + 1)
    layers: tuple[int, ...] = ()  # per_layer: the layers repeated back to back
    enable_at: float = 0.0  # fraction of training at which looping switches on (0: from the start)
    pass_schedule: tuple[tuple[float, int], ...] = ()  # progressive: (fraction, active passes) for core mode
    eval_passes: int | None = None  # passes used after training (default: all)


@dataclass
class AdapterConfig:
    lora_targets: tuple[str, ...] = ()  # subset of q, k, v, o, up, down
    lora_layers: tuple[int, ...] = ()  # physical layers with adapters (default: the looped ones)
    rank: int = 2
    share_passes: bool = False  # one adapter set for every repeat of a layer (#1552) vs one per pass
    first_pass: bool = False  # adapters on pass 0 too (#1096)
    init: str = "zero_b"  # zero_b | warm | vec
    warm_std: float = 1e-3
    alpha_init: float | None = 0.6  # None: no alpha (scale 1)
    alpha_learnable: bool = True
    pass_embed: bool = False
    pre_repeat_norm: str = "none"  # none | per_layer | per_core
    resid_scale: bool = False  # per core pass scale on the pass delta (#1230)
    resid_scale_init: float = 0.5
    feedback_rank: int = 0  # low-rank error feedback before core passes >= 1 (#1230)
    feedback_zero_init: bool = False  # reproduce #1230's inert all-zero feedback (the invariant refuses it)
    jacobian_weight: float = 0.0
    optimizer: str = "adamw"  # adamw | none | muon (none and muon reproduce seed bugs; the invariants refuse both)
    lr: float = 0.02
    weight_decay: float = 0.0


@dataclass
class ModelConfig:
    vocab_size: int = 8192
    dim: int = 512
    num_layers: int = 11
    num_heads: int = 8
    num_kv_heads: int = 4
    mlp_mult: float = 4.0
    activation: str = "leaky_relu2"  # leaky_relu2 | relu2
    leaky_slope: float = 0.5
    rope_dims: int = 16
    rope_base: float = 10000.0
    qk_gain_init: float = 5.25
    logit_softcap: float = 30.0
    tied_embed_init_std: float = 0.005
    ln_scale: bool = True
    xsa_layers: tuple[int, ...] | None = None  # None: all layers
    parallel_start: int | None = 7  # parallel residuals from this physical layer (None: never)
    skip_mode: str = "gated"  # gated | additive | none
    skip_basis: str = "virtual"  # virtual (#1493: from the looped plan) | physical (#1181/#1552)
    block_mode: str = "pre"  # pre | output_shared (#1096: shared blocks use Output-LN + Birkhoff mixing)
    per_pass_controls: bool = False  # control vectors per (pass, layer) (#298)
    timestep_scales: bool = False  # per effective layer attention/MLP output scales, clamped (#1096)
    k_rank: int = 0  # low-rank K projection (#298)
    second_embedding: bool = False  # untied zero-init extra input embedding (#298)
    smear: bool = False
    bigram: tuple[int, int] | None = None  # (buckets, dim)
    value_embed: tuple[int, tuple[int, ...]] | None = None  # (dim, layers)
    recur: RecurConfig = field(default_factory=RecurConfig)
    adapters: AdapterConfig = field(default_factory=AdapterConfig)

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def hidden(self) -> int:
        return int(self.dim * self.mlp_mult)

    def validate(self) -> "ModelConfig":
        problems = []
        if self.dim % self.num_heads:
            problems.append(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if self.num_heads % self.num_kv_heads:
            problems.append(f"num_heads {self.num_heads} is not a multiple of num_kv_heads {self.num_kv_heads}")
        if self.head_dim % 2 or self.rope_dims % 2 or self.rope_dims > self.head_dim:
            problems.append(f"rope_dims {self.rope_dims} must be even and at most head_dim {self.head_dim}")
        r = self.recur
        if r.mode == "segment" and not (0 <= r.start <= r.end < self.num_layers):
            problems.append(f"loop segment {r.start}..{r.end} is not inside 0..{self.num_layers - 1}")
        if r.mode == "core" and not (0 <= r.start < r.end <= self.num_layers):
            problems.append(f"core {r.start}..{r.end} is not inside 0..{self.num_layers}")
        if r.mode == "per_layer" and any(not 0 <= l < self.num_layers for l in r.layers):
            problems.append(f"repeated layers {r.layers} are not inside 0..{self.num_layers - 1}")
        a = self.adapters
        bad_targets = set(a.lora_targets) - {"q", "k", "v", "o", "up", "down"}
        if bad_targets:
            problems.append(f"unknown LoRA targets {sorted(bad_targets)}")
        if a.init not in ("zero_b", "warm", "vec"):
            problems.append(f"unknown adapter init {a.init!r}")
        if problems:
            raise ValueError("invalid model configuration: " + "; ".join(problems))
        return self


@dataclass
class TrainConfig:
    seq_len: int = 2048
    batch_tokens: int = 786_432  # global tokens per optimizer step
    iterations: int = 20_000
    max_wallclock_s: float | None = 600.0
    gptq_reserve_s: float = 12.0
    warmdown_frac: float = 0.72
    min_lr: float = 0.0
    matrix_lr: float = 0.022
    scalar_lr: float = 0.02
    tied_embed_lr: float = 0.03
    muon_momentum: float = 0.99
    muon_momentum_warmup: tuple[float, int] = (0.92, 1500)
    muon_row_normalize: bool = True
    muon_backend_steps: int = 5
    muon_wd: float = 0.095
    embed_wd: float = 0.085
    adam_wd: float = 0.02
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 0.3
    ema_decay: float = 0.9965
    log_every: int = 500
    val_every: int = 4000
    grad_accum: int = 0  # 0: 8 // world size on GPU (the challenge's 8-GPU batch), 1 on CPU
    compile: bool = False
    warmup_steps: int = 0  # untimed steps per graph variant (looping off / on) before training; state restored
    dtype: str = "bf16"  # bf16 | fp32 (autocast dtype on GPU)
    fused_mlp: bool = False  # Triton fused up-projection + LeakyReLU^2
    fused_ce: bool = False  # Triton fused softcapped cross-entropy


@dataclass
class QuantConfig:
    matrix_bits: int = 6
    embed_bits: int = 8
    matrix_clip_sigmas: float = 12.85
    embed_clip_sigmas: float = 20.0
    passthrough_max_numel: int = 65_536
    gptq: bool = True
    calibration_batches: int = 64
    compressor: str = "brotli"  # brotli | lzma | zlib


@dataclass
class EvalConfig:
    seq_len: int = 2048
    stride: int = 64
    ttt: bool = True
    ttt_lr: float = 0.005
    ttt_epochs: int = 3
    ttt_momentum: float = 0.9
    ttt_chunk_tokens: int = 32_768


@dataclass
class Preset:
    name: str
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    notes: str = ""


def _pr1493() -> Preset:
    m = ModelConfig(recur=RecurConfig(mode="segment", start=3, end=5, num_loops=2, enable_at=0.35))
    return Preset("pr1493", m, notes="#1493: SP8192, 11 layers, loop 3-5 x3 at 35%, parallel residuals from 7, QK 5.25, TTT")


def _pr1552_fixed() -> Preset:
    p = _pr1493()
    p.name = "pr1552_fixed"
    p.model.adapters = AdapterConfig(lora_targets=("q", "k", "v", "o"), lora_layers=(3, 4, 5), rank=2, share_passes=False,
                                     init="zero_b", alpha_init=0.6, pass_embed=True, optimizer="adamw", lr=0.02)
    p.quant.matrix_clip_sigmas = 13.06  # pays for the fp16 adapters within 16 MB
    p.notes = "#1493 plus per-pass LoRA q,k,v,o r2 and pass embeddings on layers 3-5, all trained (AdamW)"
    return p


def _pr1552_asis() -> Preset:
    p = _pr1493()
    p.name = "pr1552_asis"
    p.model.smear = True
    p.model.skip_basis = "physical"
    p.model.recur.enable_at = 2.0  # never: #1552's looping_active is never set
    p.model.adapters = AdapterConfig(lora_targets=("q", "k", "v", "o"), lora_layers=(3, 4, 5), rank=2, share_passes=True,
                                     init="warm", alpha_init=0.6, pass_embed=True, pre_repeat_norm="per_layer",
                                     optimizer="none")
    p.train.ema_decay = 0.997
    p.train.muon_row_normalize = False
    p.notes = "#1552 as coded: recurrence never on, adapters in no optimizer (the invariants refuse to train it)"
    return p


def _pr1181() -> Preset:
    m = ModelConfig(vocab_size=1024, mlp_mult=3.0, leaky_slope=0.9, qk_gain_init=4.0, parallel_start=None, smear=True,
                    bigram=(2816, 160), value_embed=(128, (9, 10)), skip_basis="physical",
                    recur=RecurConfig(mode="per_layer", layers=(4, 5), num_loops=1),
                    adapters=AdapterConfig(lora_targets=("q", "k", "v", "o"), lora_layers=(4, 5), rank=2, share_passes=True,
                                           init="warm", alpha_init=0.6, pre_repeat_norm="per_layer"))
    p = Preset("pr1181", m, notes="#1181: SP1024, per-layer repeat of 4 and 5 from step 0, warm LoRA r2 (trained here)")
    p.train.matrix_lr, p.train.muon_wd, p.train.adam_wd, p.train.ema_decay = 0.03, 0.04, 0.04, 0.997
    p.train.muon_row_normalize = False
    p.quant.gptq = True
    p.eval.ttt_lr = 0.002
    return p


def _pr1230() -> Preset:
    m = ModelConfig(vocab_size=1024, mlp_mult=3.0, qk_gain_init=1.5, parallel_start=None, smear=True, bigram=(512, 32),
                    value_embed=(128, (9, 10)), xsa_layers=(7, 8, 9, 10), skip_mode="additive",
                    recur=RecurConfig(mode="core", start=4, end=7, num_loops=2,
                                      pass_schedule=((0.0, 1), (0.69, 2), (0.85, 3)), eval_passes=3),
                    adapters=AdapterConfig(resid_scale=True, feedback_rank=2, jacobian_weight=0.01))
    p = Preset("pr1230", m, notes="#1230: stem 0-3 / core 4-6 / tail 7-10, progressive passes 1->2->3, residual scale, "
                                   "feedback (non-zero init here), Jacobian proxy")
    p.train.matrix_lr, p.train.muon_wd, p.train.adam_wd, p.train.ema_decay = 0.025, 0.04, 0.04, 0.997
    p.train.muon_row_normalize = False
    p.quant.gptq = False
    p.quant.compressor = "lzma"
    p.eval.ttt_lr = 0.002
    return p


def _pr1096() -> Preset:
    m = ModelConfig(vocab_size=1024, dim=640, num_layers=6, num_heads=10, num_kv_heads=5, mlp_mult=3.0, qk_gain_init=1.5,
                    parallel_start=None, smear=True, bigram=(3072, 128), value_embed=(128, (9, 10)),
                    xsa_layers=(1, 2, 3, 4, 5), skip_mode="additive", block_mode="output_shared", timestep_scales=True,
                    recur=RecurConfig(mode="universal", start=1, end=4, num_loops=2),
                    adapters=AdapterConfig(lora_targets=("q", "v", "up", "down"), lora_layers=(1, 2, 3, 4), rank=1,
                                           init="vec", alpha_init=None, first_pass=True, lr=0.025))
    p = Preset("pr1096", m, notes="#1096: universal 1 + 4x3 + 1, Output-LN shared blocks, Birkhoff mixing, "
                                   "rank-1 vector adapters per iteration (AdamW)")
    p.train.matrix_lr, p.train.muon_wd, p.train.adam_wd = 0.010, 0.04, 0.04
    p.train.muon_row_normalize = False
    p.quant.compressor = "lzma"
    p.eval.ttt = False
    return p


def _pr298() -> Preset:
    m = ModelConfig(vocab_size=1024, dim=768, num_layers=3, num_heads=8, num_kv_heads=2, mlp_mult=2.0, activation="relu2",
                    rope_dims=96, rope_base=500_000.0, qk_gain_init=1.5, ln_scale=False, xsa_layers=(),
                    parallel_start=None, skip_mode="additive", per_pass_controls=True, k_rank=32, second_embedding=True,
                    tied_embed_init_std=0.1 / 768 ** 0.5, recur=RecurConfig(mode="full", num_loops=2))
    p = Preset("pr298", m, notes="#298 as far as the design scopes it: 3 blocks x 3 full passes, low-rank K, per-pass "
                                  "controls; its exotic per-pass modules are not implemented")
    p.quant.gptq = False
    p.quant.matrix_bits = 8
    p.quant.compressor = "zlib"
    p.eval.ttt = False
    return p


def _tiny_cpu() -> Preset:
    m = ModelConfig(vocab_size=512, dim=64, num_layers=6, num_heads=4, num_kv_heads=2, mlp_mult=4.0, rope_dims=8,
                    parallel_start=4,
                    recur=RecurConfig(mode="segment", start=2, end=3, num_loops=2, enable_at=0.3),
                    adapters=AdapterConfig(lora_targets=("q", "k", "v", "o"), lora_layers=(2, 3), rank=2, init="zero_b",
                                           alpha_init=0.6, pass_embed=True))
    t = TrainConfig(seq_len=128, batch_tokens=4096, iterations=40, max_wallclock_s=None, gptq_reserve_s=0.0,
                    log_every=10, val_every=0, dtype="fp32", muon_momentum_warmup=(0.92, 10),
                    ema_decay=0.9)  # 0.9965 would leave a 40-step run's EMA mostly at its initialisation
    q = QuantConfig(passthrough_max_numel=1024, calibration_batches=2, compressor="lzma")
    e = EvalConfig(seq_len=128, stride=16, ttt=True, ttt_epochs=1, ttt_chunk_tokens=2048)
    return Preset("tiny_cpu", m, t, q, e, notes="tests: 6 layers of width 64, loop 2-3 x3 at 30%, per-pass LoRA")


PRESETS = {f.__name__[1:]: f for f in (_pr1493, _pr1552_fixed, _pr1552_asis, _pr1181, _pr1230, _pr1096, _pr298, _tiny_cpu)}


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    p = PRESETS[name]()
    p.model.validate()
    return p


def apply_overrides(p: Preset, overrides: list[str]) -> Preset:
    """``section.field=value`` (or a bare model field) overrides, e.g. ``model.vocab_size=1024``, ``train.iterations=80``."""
    for item in overrides:
        key, _, raw = item.partition("=")
        parts = key.split(".")
        root = {"recur": p.model.recur, "adapters": p.model.adapters}
        target = p.model if len(parts) == 1 else root.get(parts[0]) or getattr(p, parts[0])
        for name in parts[1:-1] if len(parts) > 1 else []:
            target = getattr(target, name)
        fname = parts[-1]
        if not dataclasses.is_dataclass(target) or fname not in {f.name for f in dataclasses.fields(target)}:
            raise KeyError(f"unknown setting {key!r}")
        current = getattr(target, fname)
        setattr(target, fname, _parse(raw, current))
    p.model.validate()
    return p


def _parse(raw: str, current):
    import ast

    if raw == "None":
        return None
    if isinstance(current, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        return type(current)(float(raw)) if isinstance(current, int) and "." not in raw else float(raw)
    if isinstance(current, str):
        return raw
    return ast.literal_eval(raw)
