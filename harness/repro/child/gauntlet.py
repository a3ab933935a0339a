"""The CPU smoke gauntlet, inside the sandboxed child: what reviewers did by hand, one step at a time.

    python -m harness.repro.child.gauntlet --script train_gpt.py --out gauntlet.json

Steps: import the script (its ``__main__`` block does not run), read its hyperparameters, build the
model (at a tiny size where the script reads its size from the environment, else at its own size),
run one forward pass on random tokens and check the logits' shape and finiteness. Each step records
ok / failed / skipped, seconds and what it found; the JSON is written after every step, so a step
that hangs or crashes the process still leaves the earlier ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

import torch

from harness.repro.child import adapters
from harness.repro.child.load import hyperparameters, import_script, public_values, set_tiny_env


class Steps:
    def __init__(self, out: str):
        self.out, self.steps = out, []

    def record(self, name: str, status: str, seconds: float, detail: str, **data) -> None:
        self.steps.append({"step": name, "status": status, "seconds": round(seconds, 3), "detail": detail, **data})
        tmp = self.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"steps": self.steps}, fh, indent=2, default=str)
        os.replace(tmp, self.out)

    def skip_rest(self, names: list[str], why: str) -> None:
        for name in names:
            self.record(name, "skipped", 0.0, why)


def _error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {str(exc)[:400]}{where}"


def _build(module, hp, tiny_env: dict) -> tuple[torch.nn.Module, int, str]:
    """Model and vocabulary size; ``how`` says which size it was built at."""
    if hasattr(module, "ARGS"):  # the reference bundle: its tiny CPU preset at the bundle's vocabulary
        from reference_model.config import preset
        from reference_model.gpt import GPT

        p, _ = adapters.reference_preset(module)
        cfg = preset("tiny_cpu").model
        cfg.vocab_size = p.model.vocab_size
        return GPT(cfg), cfg.vocab_size, "reference tiny_cpu shape"
    model = adapters.build_baseline(module, hp)
    vocab = int(getattr(hp, "vocab_size"))
    honoured = [k for k in tiny_env if getattr(hp, k.lower(), None) is not None and str(getattr(hp, k.lower())) == tiny_env[k]]
    how = f"tiny ({', '.join(sorted(honoured))} from the environment)" if honoured else "the script's own size"
    return model, vocab, how


def _forward(module, model: torch.nn.Module, vocab: int) -> torch.Tensor:
    wrapped = adapters.logits_module(model, vocab)
    ids = torch.randint(0, vocab, (1, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return wrapped.forward_logits(ids)


def run(script: str, out: str) -> int:
    steps = Steps(out)
    tiny_env = set_tiny_env()
    t0 = time.perf_counter()
    try:
        module = import_script(script)
    except BaseException as exc:  # SystemExit from a script that parses argv at import, too
        steps.record("import", "failed", time.perf_counter() - t0, _error(exc))
        steps.skip_rest(["hyperparameters", "build", "forward"], "import failed")
        return 1
    steps.record("import", "ok", time.perf_counter() - t0, f"imported {os.path.basename(script)} as a module")

    t0 = time.perf_counter()
    try:
        if hasattr(module, "ARGS"):
            p, args = adapters.reference_preset(module)
            values = {"preset": p.name, "args": args, "vocab_size": p.model.vocab_size, "num_layers": p.model.num_layers,
                      "model_dim": p.model.dim, "seq_len": p.eval.seq_len}
            hp = None
        else:
            hp = hyperparameters(module)
            if hp is None:
                raise adapters.AdapterError("no Hyperparameters class in the script")
            values = public_values(hp)
        steps.record("hyperparameters", "ok", time.perf_counter() - t0, f"{len(values)} values", values=values)
    except Exception as exc:
        steps.record("hyperparameters", "failed", time.perf_counter() - t0, _error(exc))
        steps.skip_rest(["build", "forward"], "no hyperparameters")
        return 1

    t0 = time.perf_counter()
    try:
        model, vocab, how = _build(module, hp, tiny_env)
    except Exception as first:
        # the tiny size may not fit the script's layout (e.g. layer indices past 2 layers): its own size
        for k in tiny_env:
            os.environ.pop(k, None)
        try:
            module = import_script(script, name="submission_full")
            hp = hyperparameters(module)
            model, vocab, how = _build(module, hp, {})
            how += f" (tiny size failed: {_error(first)})"
        except Exception as exc:
            steps.record("build", "failed", time.perf_counter() - t0, _error(exc))
            steps.skip_rest(["forward"], "no model")
            return 1
    n = sum(p.numel() for p in model.parameters())
    steps.record("build", "ok", time.perf_counter() - t0, f"{n:,} parameters at {how}", parameters=n)

    t0 = time.perf_counter()
    try:
        model.eval()
        logits = _forward(module, model, vocab)
        shape = tuple(logits.shape)
        if shape != (1, 32, vocab):
            raise adapters.AdapterError(f"logits have shape {shape}, expected (1, 32, {vocab})")
        if not torch.isfinite(logits.float()).all():
            raise adapters.AdapterError("logits contain NaN or inf")
    except Exception as exc:
        steps.record("forward", "failed", time.perf_counter() - t0, _error(exc))
        return 1
    steps.record("forward", "ok", time.perf_counter() - t0, f"logits {list(shape)}, finite")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="harness.repro.child.gauntlet")
    ap.add_argument("--script", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    return run(args.script, args.out)


if __name__ == "__main__":
    sys.exit(main())
