"""One entry point for every evaluation mode: ``run_mode(name, model, stream, **settings)``."""

from __future__ import annotations

import dataclasses
from typing import Any

from harness.engine import evaluate, ttt_lora, ttt_sgd  # noqa: F401  (registers the modes)
from harness.engine.evaluate import RunOptions
from harness.engine.protocol import EvalModel
from harness.engine.registry import EVAL_MODES
from harness.engine.scoring import EvalResult
from harness.engine.stream import EvalStream
from harness.errors import UsageError

_CONFIGS = {
    "ttt_sgd": ttt_sgd.SGDTTTConfig,
    "ttt_lora": ttt_lora.LoRATTTConfig,
    "ttt_phased": ttt_lora.PhasedTTTConfig,
}
_OPTION_FIELDS = {f.name for f in dataclasses.fields(RunOptions)}


def run_mode(mode: str, model: EvalModel, stream: EvalStream, **settings: Any) -> EvalResult:
    """Run ``mode`` ("flat", "sliding", "ttt_sgd", "ttt_lora", "ttt_phased").

    ``settings`` mixes the mode's own settings (``seq_len``, ``stride`` or the fields of its config
    dataclass) and RunOptions fields (``batch_windows``, ``autocast_dtype``, ``progress``, ...).
    Unknown keys are an error rather than silently ignored.
    """
    if mode not in EVAL_MODES:
        raise UsageError(f"unknown eval mode {mode!r}; known: {', '.join(sorted(EVAL_MODES))}")
    opts = RunOptions(**{k: v for k, v in settings.items() if k in _OPTION_FIELDS})
    own = {k: v for k, v in settings.items() if k not in _OPTION_FIELDS}
    fn = EVAL_MODES[mode].fn
    if mode in _CONFIGS:
        cls = _CONFIGS[mode]
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = set(own) - allowed
        if unknown:
            raise UsageError(f"{mode}: unknown settings {sorted(unknown)}; allowed: {sorted(allowed)}")
        return fn(model, stream, cls(**own), opts)
    allowed = {"seq_len"} | ({"stride"} if mode == "sliding" else set())
    unknown = set(own) - allowed
    if unknown or "seq_len" not in own:
        raise UsageError(f"{mode}: takes {sorted(allowed)} (seq_len required); got {sorted(own)}")
    return fn(model, stream, opts=opts, **own)
