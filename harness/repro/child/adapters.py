"""Model adapters: turn a submission's artifact into the evaluators' model protocol.

Runs inside the sandboxed child. Each adapter knows one family of submissions:

- ``reference``: the harness's reference model bundle (artifact magic ``PGRM``; config in the artifact).
- ``baseline``: scripts derived from the challenge's baseline ``train_gpt.py``: a ``Hyperparameters``
  class read from the environment, a ``GPT`` model class, a compressed ``torch.save`` of a quantized
  state and the script's own ``dequantize*`` function. Logits come from the model's
  ``forward_logits`` where it has one, else from intercepting the cross-entropy its ``forward`` ends in.
- a user adapter ``module:function`` with ``function(submission_module, artifact_path, device) -> model``
  (a model with ``forward_logits(ids) -> logits``; optional attributes ``vocab_size``, ``seq_len``).
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import lzma
import os
import shlex
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from harness.repro.child.load import hyperparameters, public_values

REFERENCE_MAGIC = b"PGRM"


class AdapterError(RuntimeError):
    """The adapter cannot map this submission; the message says what it looked for and what it found."""


@dataclass
class Adapted:
    model: nn.Module  # has forward_logits(ids[B, T]) -> logits[B, T, V]
    vocab_size: int
    seq_len: int | None = None  # the script's evaluation length
    stride: int | None = None  # the script's sliding stride, when it has one
    settings: dict = field(default_factory=dict)  # what the adapter read (for the report)
    scoring: nn.Module | None = None  # what serves logits (the model, or its compiled forward)

    def __post_init__(self):
        if self.scoring is None:
            self.scoring = self.model


# ---------------------------------------------------------------------------------- baseline family

def _logits_passthrough(logits, target, *args, **kwargs):
    return logits


class CapturedLogits(nn.Module):
    """forward_logits for a model whose forward(ids, targets) returns only the loss.

    In this (single-purpose, sandboxed) child, ``torch.nn.functional.cross_entropy`` is replaced by
    a function that returns its input, so the model's own forward returns the logits it would have
    scored (after the script's softcap). No side effects, so the forward also compiles; gradients
    flow for TTT. Works when the forward returns that call's result, as the baseline's does.
    """

    def __init__(self, model: nn.Module, vocab_size: int):
        super().__init__()
        import torch.nn.functional as F

        F.cross_entropy = _logits_passthrough
        self.model, self.vocab_size = model, vocab_size

    def forward_logits(self, ids: torch.Tensor) -> torch.Tensor:
        logits = self.model(ids, torch.zeros_like(ids))
        b, t = ids.shape
        if not isinstance(logits, torch.Tensor) or logits.numel() != b * t * self.vocab_size:
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise AdapterError(f"with cross-entropy passed through, the model's forward returned {shape}, not "
                               f"{b}x{t}x{self.vocab_size} logits: it does not end in "
                               "torch.nn.functional.cross_entropy (use --adapter module:function)")
        return logits.reshape(b, t, self.vocab_size)


class Compiled(nn.Module):
    """torch.compile of a wrapper's forward_logits, falling back to eager if compilation fails.

    The challenge's scripts evaluate a compiled model; bf16 results of fused kernels differ from
    eager ones, so on GPU the re-score compiles too."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self._compiled = torch.compile(inner.forward_logits, dynamic=False)
        self.note = "compiled"

    def forward_logits(self, ids: torch.Tensor) -> torch.Tensor:
        if self._compiled is not None:
            try:
                return self._compiled(ids)
            except Exception as exc:  # keep going eagerly, and say so in the report
                self._compiled, self.note = None, f"eager (compile failed: {type(exc).__name__})"
        return self.inner.forward_logits(ids)


class OwnLogits(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward_logits(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.forward_logits(ids)


def logits_module(model: nn.Module, vocab_size: int) -> nn.Module:
    """The model's own forward_logits where it has one, else its loss forward with cross-entropy passed through."""
    return OwnLogits(model) if callable(getattr(model, "forward_logits", None)) else CapturedLogits(model, vocab_size)


def model_class(module: ModuleType) -> type:
    cls = getattr(module, "GPT", None)
    if inspect.isclass(cls) and issubclass(cls, nn.Module):
        return cls
    found = sorted(n for n, v in vars(module).items() if inspect.isclass(v) and issubclass(v, nn.Module))
    raise AdapterError(f"no GPT model class in the script (nn.Module classes found: {', '.join(found) or 'none'})")


def build_baseline(module: ModuleType, hp) -> nn.Module:
    """GPT(...) from the script's own hyperparameters: constructor arguments matched by name, or the
    Hyperparameters object itself when the constructor takes one argument the object has no field for."""
    cls = model_class(module)
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if len(params) == 1 and not hasattr(hp, params[0].name):
        return cls(hp)
    kwargs, missing = {}, []
    for p in params:
        if hp is not None and hasattr(hp, p.name):
            kwargs[p.name] = getattr(hp, p.name)
        elif p.default is p.empty:
            missing.append(p.name)
    if missing:
        raise AdapterError(f"GPT.__init__ needs {', '.join(missing)}, which Hyperparameters does not have")
    return cls(**kwargs)


def training_dtypes(module: ModuleType, model: nn.Module, state: dict) -> str:
    """Put the model in the dtypes the script trained and evaluated it in.

    The artifact gives the dtypes of the parameters it stores, not of non-persistent buffers: the
    baseline trains a ``.bfloat16()`` model (CastedLinear weights and low-dimensional parameters
    restored to fp32), so its rotary ``inv_freq`` buffer, and the positions built from it, are bf16.
    Evaluating with fp32 buffers would score a different function than the one trained. When the
    artifact holds bf16 tensors, mirror that recipe; the state's own dtypes are then assigned on top.
    """
    if os.environ.get("PG_HARNESS_DTYPES") == "built":  # a debugging switch: score the model as built
        return "as built (PG_HARNESS_DTYPES=built)"
    if not any(isinstance(t, torch.Tensor) and t.dtype == torch.bfloat16 for t in state.values()):
        return "as built (the artifact holds no bf16 tensors)"
    model.bfloat16()
    casted = getattr(module, "CastedLinear", None)
    steps = ["model.bfloat16()"]
    if inspect.isclass(casted):
        for m in model.modules():
            if isinstance(m, casted):
                m.float()
        steps.append("CastedLinear.float()")
    restore = getattr(module, "restore_low_dim_params_to_fp32", None)
    if callable(restore):
        restore(model)
        steps.append("restore_low_dim_params_to_fp32")
    return "the baseline's recipe: " + ", ".join(steps)


def _decompress(blob: bytes) -> tuple[bytes, str]:
    for name, fn in (("zlib", zlib.decompress), ("lzma", lzma.decompress)):
        try:
            return fn(blob), name
        except Exception:
            pass
    for name, mod, call in (("brotli", "brotli", "decompress"), ("zstd", "zstandard", None)):
        try:
            lib = importlib.import_module(mod)
            return (lib.decompress(blob) if call else lib.ZstdDecompressor().decompress(blob, max_output_size=1 << 31)), name
        except Exception:
            pass
    return blob, "none"


def dequantizers(module: ModuleType) -> list:
    return [getattr(module, n) for n in sorted(vars(module)) if n.startswith("dequantize") and callable(getattr(module, n))]


def load_baseline(module: ModuleType, artifact: Path, device: torch.device) -> Adapted:
    hp = hyperparameters(module)
    if hp is None:
        raise AdapterError("the script has no Hyperparameters class")
    model = build_baseline(module, hp)
    raw, codec = _decompress(artifact.read_bytes())
    # the artifact is untrusted: this runs only inside the sandboxed child
    obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=False)
    template = model.state_dict()
    state, used, errors = None, None, []
    dtypes_note = "as built"
    for fn in dequantizers(module):
        n_args = len([p for p in inspect.signature(fn).parameters.values() if p.default is p.empty])
        try:
            if n_args == 1:
                state = fn(obj)
            elif n_args == 3 and isinstance(obj, dict) and {"w", "m"} <= set(obj):
                state = fn(obj["w"], obj["m"], template)
            else:
                continue
            dtypes_note = training_dtypes(module, model, state)
            # assign: keep the dtypes the script exported (e.g. a bf16 embedding), as its own eval has them
            model.load_state_dict(state, strict=True, assign=True)
            used = fn.__name__
            break
        except Exception as exc:  # try the next candidate, keep why this one failed
            errors.append(f"{fn.__name__}: {type(exc).__name__}: {str(exc)[:200]}")
    if used is None:
        tried = "; ".join(errors) or "no dequantize* function in the script"
        raise AdapterError(f"could not rebuild the model from {artifact.name} ({codec}): {tried}")
    model = model.to(device).eval()
    vocab = int(getattr(hp, "vocab_size"))
    wrapped = logits_module(model, vocab)
    seq_len = getattr(hp, "eval_seq_len", None) or getattr(hp, "train_seq_len", None)
    stride = getattr(hp, "eval_stride", None) or getattr(hp, "sliding_window_stride", None)
    return Adapted(wrapped, vocab, int(seq_len) if seq_len else None, int(stride) if stride else None,
                   {"adapter": "baseline", "codec": codec, "dequantize": used,
                    "logits": "forward_logits" if isinstance(wrapped, OwnLogits) else "captured cross-entropy input",
                    "dtypes": dtypes_note,
                    "hyperparameters": public_values(hp)})


# ---------------------------------------------------------------------------------- reference model

def reference_preset(module: ModuleType):
    """The preset and overrides a reference bundle was trained with (its ``ARGS``)."""
    from reference_model.config import apply_overrides, preset

    args = list(getattr(module, "ARGS", []))
    name, overrides = "pr1552_fixed", []
    for flag, value in zip(args[::2], args[1::2]):
        if flag == "--preset":
            name = value
        elif flag == "--set":
            overrides.append(value)
    return apply_overrides(preset(name), overrides), shlex.join(args)


def load_reference(module: ModuleType, artifact: Path, device: torch.device) -> Adapted:
    from reference_model.train import load_artifact

    model = load_artifact(artifact.read_bytes(), device)
    p, args = reference_preset(module)
    return Adapted(model, model.cfg.vocab_size, p.eval.seq_len, p.eval.stride,
                   {"adapter": "reference", "preset": p.name, "args": args,
                    "ttt": {"lr": p.eval.ttt_lr, "epochs": p.eval.ttt_epochs, "momentum": p.eval.ttt_momentum,
                            "chunk_tokens": p.eval.ttt_chunk_tokens} if p.eval.ttt else None})


# ---------------------------------------------------------------------------------- choosing

def load_user(spec: str, module: ModuleType, artifact: Path, device: torch.device) -> Adapted:
    mod_name, _, fn_name = spec.partition(":")
    if not fn_name:
        raise AdapterError(f"--adapter {spec!r}: expected module:function")
    fn = getattr(importlib.import_module(mod_name), fn_name)
    model = fn(module, artifact, device)
    if not callable(getattr(model, "forward_logits", None)):
        raise AdapterError(f"{spec} returned {type(model).__name__}, which has no forward_logits(ids)")
    vocab = getattr(model, "vocab_size", None)
    if vocab is None:
        raise AdapterError(f"{spec}: the returned model must have a vocab_size attribute")
    seq_len, stride = getattr(model, "seq_len", None), getattr(model, "stride", None)
    hp = hyperparameters(module) if getattr(module, "Hyperparameters", None) is not None else None
    if seq_len is None and hp is not None:  # the script's own evaluation length, as for the baseline adapter
        seq_len = getattr(hp, "eval_seq_len", None) or getattr(hp, "train_seq_len", None)
    if stride is None and hp is not None:
        stride = getattr(hp, "eval_stride", None) or getattr(hp, "sliding_window_stride", None)
    return Adapted(model, int(vocab), int(seq_len) if seq_len else None, int(stride) if stride else None,
                   {"adapter": spec})


def choose(spec: str, artifact: Path) -> str:
    if spec != "auto":
        return spec
    with open(artifact, "rb") as fh:
        return "reference" if fh.read(4) == REFERENCE_MAGIC else "baseline"


def load(spec: str, module: ModuleType, artifact: Path, device: torch.device) -> Adapted:
    kind = choose(spec, artifact)
    if kind == "reference":
        return load_reference(module, artifact, device)
    if kind == "baseline":
        return load_baseline(module, artifact, device)
    return load_user(kind, module, artifact, device)


def describe(adapted: Adapted) -> str:
    return json.dumps({k: v for k, v in adapted.settings.items() if k != "hyperparameters"})
