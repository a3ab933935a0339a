"""Full runs: the submission's own training and evaluation, one sandboxed run per seed.

    python -m torch.distributed.run --standalone --nproc_per_node=N train_gpt.py

with the challenge's environment (DATA_PATH, TOKENIZER_PATH, SEED, RUN_ID, ...) under the 600 s
training and 600 s evaluation limits plus a stated grace. The logs it writes are parsed with the
audit's parser; the artifact it writes is handed to the re-score.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.audit.logparse import ParsedLog, parse_log
from harness.repro.layout import DataLayout
from harness.repro.settings import EVAL_LIMIT_S, TRAIN_LIMIT_S, ReproSettings
from harness.review import Check, Evidence
from harness.sandbox import SandboxResult, private_copy, run_sandboxed

ARTIFACT_SUFFIXES = (".ptz", ".ptx", ".int8", ".bin.xz")
SHORTENING_VARS = ("ITERATIONS", "MAX_WALLCLOCK_SECONDS")
MIN_TOLERANCE = 0.002  # bits/byte: a single seed's run-to-run noise on 8xH100 (the records' seed spreads)


@dataclass
class SeedRun:
    seed: int
    workdir: Path
    result: SandboxResult
    log: ParsedLog | None
    log_path: Path | None
    artifacts: list[Path] = field(default_factory=list)

    @property
    def val_bpb(self) -> float | None:
        return self.log.reported.val_bpb if self.log and self.log.reported else None

    def to_dict(self) -> dict:
        return {"seed": self.seed, "sandbox": self.result.to_dict(), "log": str(self.log_path) if self.log_path else None,
                "val_bpb": self.val_bpb, "reported_label": self.log.reported.label if self.log and self.log.reported else None,
                "artifacts": [a.name for a in self.artifacts]}


def command(script: str, nproc: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", script]


def _new_files(workdir: Path, since: float) -> list[Path]:
    return sorted(p for p in workdir.rglob("*") if p.is_file() and p.stat().st_mtime >= since
                  and ".home" not in p.parts and "tmp" not in p.relative_to(workdir).parts[:1])


def _best_log(candidates: list[Path]) -> tuple[ParsedLog | None, Path | None]:
    """The log with a reported number; the run's own log files first, the captured stdout last."""
    for path in candidates:
        try:
            log = parse_log(path)
        except Exception:
            continue
        if log.reported is not None:
            return log, path
    return None, None


def run_seed(folder: Path, script: str, seed: int, layout: DataLayout, nproc: int, settings: ReproSettings) -> SeedRun:
    workdir = private_copy(folder, settings.work_root / f"run_seed{seed}")
    env = {**layout.env(), "SEED": str(seed), "RUN_ID": f"harness_seed{seed}", **settings.env}
    wall = TRAIN_LIMIT_S + EVAL_LIMIT_S + settings.grace_s
    started = time.time() - 1
    result = run_sandboxed(command(script, nproc), cwd=workdir, policy=settings.policy(wall, env),
                           log_dir=settings.work_root / "logs", name=f"run_seed{seed}")
    produced = _new_files(workdir, started)
    logs = [p for p in produced if p.suffix in (".log", ".txt")]
    log, log_path = _best_log(logs + [result.stdout_path])
    artifacts = [p for p in produced if p.name.endswith(ARTIFACT_SUFFIXES)]
    return SeedRun(seed, workdir, result, log, log_path, artifacts)


def tolerance(claimed: list[float]) -> float:
    """How far a reproduced seed may sit from its claim: three standard deviations of the claimed
    seeds, never less than MIN_TOLERANCE (one seed, or seeds that agree suspiciously well)."""
    if len(claimed) >= 2:
        return max(3 * statistics.stdev(claimed), MIN_TOLERANCE)
    return MIN_TOLERANCE


def compare(runs: list[SeedRun], claims: dict, settings: ReproSettings, limits_s: float) -> Check:
    per_seed = {int(k): v.get("val_bpb") for k, v in (claims.get("seeds") or {}).items()
                if isinstance(v, dict) and v.get("val_bpb") is not None and str(k).lstrip("-").isdigit()}
    tol = tolerance(list(per_seed.values()))
    evidence, rows, problems = [], [], []
    for r in runs:
        claimed = per_seed.get(r.seed, claims.get("val_bpb"))
        gap = None if r.val_bpb is None or claimed is None else r.val_bpb - claimed
        rows.append({"seed": r.seed, "reproduced": r.val_bpb, "claimed": claimed, "gap": gap, "status": r.result.status,
                     "seconds": round(r.result.seconds, 1)})
        where = str(r.log_path.name) if r.log_path else f"{r.result.name}.stdout"
        evidence.append(Evidence(path=where, line=r.log.reported.line if r.log and r.log.reported else None,
                                 text=r.log.reported.text if r.log and r.log.reported else r.result.message))
        if r.result.status != "ok":
            problems.append(f"seed {r.seed}: {r.result.message}")
        elif r.val_bpb is None:
            problems.append(f"seed {r.seed}: the run finished but no log line carries a final val_bpb")
        elif gap is not None and abs(gap) > tol:
            problems.append(f"seed {r.seed}: reproduced {r.val_bpb:.5f} vs claimed {claimed:.5f} (gap {gap:+.5f} > {tol:.5f})")
    data = {"runs": rows, "tolerance": tol, "limits_s": limits_s, "env": settings.env}
    shortened = sorted(set(settings.env) & set(SHORTENING_VARS))
    finished = [r for r in runs if r.result.status == "ok" and r.val_bpb is not None]
    if shortened and len(finished) == len(runs):
        return Check("repro.run", "skip", f"{len(runs)} run(s) completed in the sandbox with {', '.join(shortened)} set, "
                     "so the reproduced numbers are not comparable with the claim: "
                     + ", ".join(f"seed {r.seed} {r.val_bpb:.5f}" for r in finished), evidence, data)
    if problems:
        status = "fail" if any("gap" in p or "no log line" in p for p in problems) or not shortened else "warn"
        return Check("repro.run", status, "; ".join(problems)[:600], evidence, data)
    mean = sum(r.val_bpb for r in finished) / len(finished)
    return Check("repro.run", "pass", f"{len(runs)} seed(s) reproduced within {tol:.4f} of the claim "
                 f"(mean {mean:.5f}; limits {limits_s:.0f} s per run incl. grace)", evidence, data)


def run_all(folder: Path, script: str, seeds: list[int], layout: DataLayout, nproc: int, settings: ReproSettings,
            claims: dict, progress) -> tuple[Check, list[SeedRun]]:
    runs = []
    for seed in seeds:
        progress(f"full run, seed {seed}: {' '.join(command(script, nproc))}")
        runs.append(run_seed(folder, script, seed, layout, nproc, settings))
        r = runs[-1]
        progress(f"  seed {seed}: {r.result.status} in {r.result.seconds:.0f} s, val_bpb "
                 f"{'-' if r.val_bpb is None else f'{r.val_bpb:.5f}'}")
    limits = TRAIN_LIMIT_S + EVAL_LIMIT_S + settings.grace_s
    return compare(runs, claims, settings, limits), runs
