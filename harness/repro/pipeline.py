"""``harness evaluate`` beyond the evidence: gauntlet, full runs, re-score, probe.

Stages, each a check on the review:

1. ``repro.gauntlet``: import / hyperparameters / build / forward in the sandbox (always).
2. ``repro.run``: the submission's own training and evaluation per seed (with ``--data``, unless
   ``--no-train``; or ``--train`` on the bundled example), compared with the claim.
3. ``repro.rescore`` and ``repro.probe``: the harness's flat, sliding and score-first TTT scores of
   the artifact (the one the full run produced, else the ones shipped in the folder) beside the
   log's own, and the prefix-invariance probe on the same model.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from harness.errors import UsageError
from harness.repro import example
from harness.repro.layout import DataLayout, resolve
from harness.repro.settings import ReproSettings, child_pythonpath
from harness.review import Check, Review, verdict_and_reason


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reproduction (without --offline)")
    g.add_argument("--data", metavar="DIR", help="challenge data layout: datasets/fineweb10B_sp<V>/, tokenizers/")
    g.add_argument("--train", action="store_true", help="run the submission's training even without --data (bundled example)")
    g.add_argument("--no-train", action="store_true", help="do not run training; re-score the artifacts in the folder")
    g.add_argument("--seeds", help="comma-separated seeds for full runs (default: the claimed seeds, else 1337)")
    g.add_argument("--nproc", type=int, default=1, help="processes per run (torchrun --nproc_per_node)")
    g.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="extra environment for full runs and the model server, e.g. ITERATIONS=200 (a shortened run is not compared with the claim)")
    g.add_argument("--adapter", default="auto", help="model adapter: auto, reference, baseline or module:function")
    g.add_argument("--allow-network", action="store_true", help="run without a network namespace where none can be made")
    g.add_argument("--grace", type=float, default=120.0, help="seconds on top of the 600 s + 600 s limits (default 120)")
    g.add_argument("--mem-gb", type=float, help="cap on a run's summed resident memory")
    g.add_argument("--rescore-compile", choices=["auto", "on", "off"], default="auto",
                   help="compile the re-scored model's forward (auto: on GPU, as the scripts' own evaluation)")
    g.add_argument("--rescore-tolerance", type=float, default=1e-3, help="bits/byte (default 1e-3)")
    g.add_argument("--workdir", help="keep the sandboxed copies and their output here (default: a temporary folder)")
    g.add_argument("--no-probe", action="store_true", help="skip the prefix-invariance probe")


def _env(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"--env {pair!r}: expected NAME=VALUE")
        out[key] = value
    return out


def _seeds(args, review: Review) -> list[int]:
    if args.seeds:
        try:
            return [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            raise UsageError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    claimed = [int(k) for k in (review.claims.get("seeds") or {}) if str(k).lstrip("-").isdigit()]
    return claimed or [1337]


def _vocab(gauntlet: dict) -> int | None:
    for step in gauntlet.get("steps", []):
        values = step.get("values") or {}
        if "vocab_size" in values:
            return int(values["vocab_size"])
    return None


def _progress(line: str) -> None:
    print(f"harness: {line}", file=sys.stderr, flush=True)


def _shipped_targets(folder: Path, workdir: Path):
    from harness.audit.logparse import parse_log
    from harness.repro.fullrun import ARTIFACT_SUFFIXES
    from harness.repro.rescore import Target

    targets = []
    # a records folder keeps its logs at the top; a folder a run wrote (baseline-style) under logs/
    logs = sorted(folder.glob("*.log")) + sorted(folder.glob("*.txt")) + sorted(folder.glob("logs/*.txt"))
    logs = [p for p in logs if p.name.lower() not in ("requirements.txt",)]
    for artifact in sorted(p for p in workdir.iterdir() if p.name.endswith(ARTIFACT_SUFFIXES)):
        seed = re.search(r"seed[_-]?(\d+)", artifact.name)
        match = [p for p in logs if seed and re.search(rf"seed[_-]?{seed.group(1)}\D", p.name + ".")] or \
                (logs if len(logs) == 1 else [])
        log = parse_log(match[0]) if match else None
        label = f"seed {seed.group(1)} (shipped artifact)" if seed else f"{artifact.name} (shipped artifact)"
        targets.append(Target(artifact, workdir, log, label))
    return targets


def reproduce_into(review: Review, folder: Path, args: argparse.Namespace) -> None:
    from harness.repro.gauntlet import run_gauntlet

    script = review.submission.get("script")
    if not script:
        review.checks.append(Check("repro.gauntlet", "skip", "no training script in the folder to run"))
        return
    keep = getattr(args, "workdir", None)
    work_root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="pg-repro-"))
    work_root.mkdir(parents=True, exist_ok=True)
    is_example = folder.resolve() == example.FOLDER.resolve()
    data_root = Path(args.data) if getattr(args, "data", None) else (example.example_data() if is_example else None)
    settings = ReproSettings(work_root=work_root, allow_network=getattr(args, "allow_network", False),
                             mem_bytes=int(args.mem_gb * 2**30) if getattr(args, "mem_gb", None) else None,
                             grace_s=getattr(args, "grace", 120.0), env=_env(getattr(args, "env", [])),
                             readable=(data_root.resolve(),) if data_root else ())
    sandbox: dict = {"work_root": str(work_root), "capabilities": _capabilities(),
                     "fa3_shim": "PG_HARNESS_FA3_SHIM" in child_pythonpath()}
    try:
        _progress(f"gauntlet: {script} in the sandbox")
        check, gauntlet = run_gauntlet(folder, script, settings)
        review.checks.append(check)
        sandbox["gauntlet"] = gauntlet
        vocab = _vocab(gauntlet)
        layout = _layout(review, data_root, vocab)
        if layout is not None:
            targets = _run_or_ship(review, folder, script, layout, settings, args, sandbox, is_example)
            _rescore_targets(review, script, layout, settings, args, targets)
        review.commands.append(_command(folder, args))
    finally:
        review.sandbox = sandbox
        review.verdict, review.reason = verdict_and_reason(review.checks)
        if not keep:
            shutil.rmtree(work_root, ignore_errors=True)


def _capabilities() -> dict:
    from harness.sandbox import describe_capabilities

    return describe_capabilities()


def _layout(review: Review, data_root: Path | None, vocab: int | None) -> DataLayout | None:
    if data_root is None:
        review.checks.append(Check("repro.rescore", "skip", "no --data: the submission was not trained or re-scored "
                                   "(pass --data DIR with the challenge layout)"))
        return None
    if vocab is None:
        review.checks.append(Check("repro.rescore", "skip", "the gauntlet could not read the script's vocabulary size, "
                                   "so its data cannot be chosen"))
        return None
    return resolve(data_root, vocab)


def _run_or_ship(review, folder, script, layout, settings, args, sandbox, is_example):
    from harness.repro.fullrun import run_all
    from harness.repro.rescore import Target
    from harness.sandbox import private_copy

    train = not getattr(args, "no_train", False) and (getattr(args, "train", False) or
                                                     (getattr(args, "data", None) is not None and not is_example))
    if not train:
        return _shipped_targets(folder, private_copy(folder, settings.work_root / "shipped"))
    check, runs = run_all(folder, script, _seeds(args, review), layout, getattr(args, "nproc", 1), settings,
                          review.claims, _progress)
    review.checks.append(check)
    sandbox["runs"] = [r.to_dict() for r in runs]
    targets = []
    for r in runs:
        ptz = [a for a in r.artifacts if a.suffix == ".ptz"] or r.artifacts
        if r.result.status == "ok" and ptz:
            targets.append(Target(ptz[0], r.workdir, r.log, f"seed {r.seed} (reproduced)"))
    return targets[:1]  # one artifact is enough to check the scoring; the others are in the run logs


def _rescore_targets(review, script, layout, settings, args, targets) -> None:
    from harness.repro.rescore import rescore

    if not targets:
        review.checks.append(Check("repro.rescore", "skip", "no artifact to re-score (none shipped, none produced)"))
        return
    target = targets[0]
    _progress(f"re-score: {target.artifact.name} ({target.label}) with the harness's evaluators")
    checks, data, probe = rescore(target, script, getattr(args, "adapter", "auto"), layout, settings,
                                  tolerance=getattr(args, "rescore_tolerance", 1e-3),
                                  probe=not getattr(args, "no_probe", False),
                                  compile=getattr(args, "rescore_compile", "auto"))
    review.checks.extend(checks)
    review.rescore = data
    review.probe = probe


def _command(folder: Path, args) -> str:
    parts = ["harness", "evaluate", str(folder)]
    for flag in ("data", "seeds", "adapter", "workdir"):
        value = getattr(args, flag, None)
        if value and not (flag == "adapter" and value == "auto"):
            parts += [f"--{flag}", str(value)]
    for pair in getattr(args, "env", []):
        parts += ["--env", pair]
    for flag in ("train", "no_train", "allow_network", "no_probe"):
        if getattr(args, flag, False):
            parts.append("--" + flag.replace("_", "-"))
    if getattr(args, "nproc", 1) != 1:
        parts += ["--nproc", str(args.nproc)]
    return " ".join(parts)
