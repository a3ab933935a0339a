"""audit_submission: every offline check on one folder, as a Review."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import sys
from pathlib import Path

from harness import __version__
from harness.audit import checks as C
from harness.audit.intake import Submission, load_submission
from harness.review import Check, Review, Run, verdict_and_reason


def _git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except Exception:
        return None


def environment() -> dict:
    env = {"harness": __version__, "git_sha": _git_sha(), "python": sys.version.split()[0], "platform": platform.platform()}
    try:
        import torch

        env["torch"] = torch.__version__
    except ImportError:  # pragma: no cover
        pass
    return env


def _runs(sub: Submission) -> list[Run]:
    out = []
    for log in sub.logs:
        m = log.reported
        extra = {"reported_reason": log.reported_reason, "reported_mode": log.reported_mode, "notes": log.notes,
                 "seed_source": log.seed_source}
        if log.code_bytes_compressed is not None:
            extra["code_bytes_compressed"] = log.code_bytes_compressed.value
        out.append(Run(
            log=log.path, seed=log.seed, metric_label=m.label if m else None, metric_line=m.line if m else None,
            val_bpb=m.val_bpb if m else None, val_loss=(m.val_loss if m and m.val_loss == m.val_loss else None),
            model_bytes=log.model_bytes.value if log.model_bytes else None,
            code_bytes=(log.code_bytes or log.code_bytes_uncompressed or log.code_bytes_compressed).value
            if (log.code_bytes or log.code_bytes_uncompressed or log.code_bytes_compressed) else None,
            total_bytes=log.total_bytes.value if log.total_bytes else None,
            train_time_s=log.train_time_ms.value / 1000 if log.train_time_ms else None,
            eval_time_s=m.eval_ms / 1000 if m and m.eval_ms is not None else None,
            steps=log.steps, train_loss_curve=log.train_curve[-2000:], val_bpb_curve=log.val_curve, extra=extra,
        ))
    return out


def previous_from_folder(folder: str | Path) -> tuple[list[float], str]:
    prev = load_submission(folder)
    values, logs = C.run_losses(prev)
    return values, f"{prev.name}: {len(values)} run log(s) in {Path(folder)}"


def audit_submission(
    folder: str | Path,
    *,
    against: str | Path | None = None,
    against_values: list[float] | None = None,
    lint: bool = True,
) -> Review:
    sub = load_submission(folder)
    checks: list[Check] = [fn(sub) for fn in C.CHECKS]
    previous, label = None, ""
    if against is not None:
        previous, label = previous_from_folder(against)
    elif against_values is not None:
        previous, label = list(against_values), "values given on the command line"
    significance = C.check_significance(sub, previous, label)
    if against is not None:
        prev = load_submission(against)
        if prev.claims is not None and prev.claims.val_bpb is not None:
            significance.data["previous_val_bpb"] = prev.claims.val_bpb  # drawn beside the new runs in the report
    checks.append(significance)
    lint_json = None
    if lint:
        lint_check, lint_json = C.check_lint(sub)
        checks.append(lint_check)
    verdict, reason = verdict_and_reason(checks)
    claims = sub.claims.to_dict() if sub.claims else {"error": sub.claims_error.describe() if sub.claims_error else "no submission.json"}
    script = sub.main_script
    cmd = f"harness evaluate {sub.root} --offline" + (f" --against {against}" if against else "")
    return Review(
        submission={"name": sub.name, "path": str(sub.root), "folder": sub.root.name, "sha256": sub.fingerprint(),
                    "track": sub.claims.track if sub.claims else None, "script": script.name if script else None,
                    "skipped_logs": sub.skipped_logs},
        verdict=verdict,
        reason=reason,
        checks=checks,
        claims=claims,
        runs=_runs(sub),
        lint=lint_json,
        environment=environment(),
        commands=[cmd],
        created=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
