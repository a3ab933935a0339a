"""Import a submission script as a module, without running its ``__main__`` block."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType

# Environment variables baseline-derived scripts read for the model's size; the gauntlet sets them
# before import to build the model small. A script that ignores them is built at its own size.
TINY_ENV = {"NUM_LAYERS": "2", "MODEL_DIM": "64", "NUM_HEADS": "2", "NUM_KV_HEADS": "1", "MLP_MULT": "2",
            "TRAIN_SEQ_LEN": "64", "EVAL_SEQ_LEN": "64"}
TINY_FIELDS = {"num_layers": 2, "model_dim": 64, "num_heads": 2}


def import_script(path: str | Path, name: str = "submission") -> ModuleType:
    path = Path(path).resolve()
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path}: not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def hyperparameters(module: ModuleType):
    """The script's Hyperparameters instance (class attributes read from the environment), or None."""
    cls = getattr(module, "Hyperparameters", None)
    if cls is None:
        return None
    return cls() if inspect.isclass(cls) else cls


def public_values(obj) -> dict:
    out = {}
    for key in dir(obj):
        if key.startswith("_"):
            continue
        value = getattr(obj, key, None)
        if isinstance(value, (int, float, str, bool)) or value is None:
            out[key] = value
    return out


def set_tiny_env() -> dict:
    """Set the tiny-size variables where the caller did not; return what was set."""
    set_now = {k: v for k, v in TINY_ENV.items() if k not in os.environ}
    os.environ.update(set_now)
    return set_now
