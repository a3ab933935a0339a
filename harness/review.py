"""The review result: what `harness evaluate` produces and every report format renders.

Plain dataclasses with ``to_dict`` / ``from_dict`` so a saved ``review.json`` renders again
(``harness report REVIEW.json``). ``SCHEMA_VERSION`` is bumped on any breaking change; fields are
only added within a version.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1

STATUSES = ("pass", "warn", "fail", "skip")
VERDICTS = ("pass", "warn", "fail")


@dataclass
class Evidence:
    """One thing a check read: a file (relative to the submission), a 1-based line, the raw text."""

    path: str
    line: int | None = None
    text: str = ""
    note: str = ""


@dataclass
class Check:
    id: str  # stable, e.g. "claim.logs", "size.cap", "lint.ttt"
    status: str  # one of STATUSES
    message: str  # what it read, what it expected, what it found
    evidence: list[Evidence] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable details (expected, found, ...)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.id}: status {self.status!r} is not one of {STATUSES}")


@dataclass
class Run:
    """One training run (one log file, usually one seed) as the log parser read it."""

    log: str
    seed: int | None = None
    metric_label: str | None = None  # the label of the line used as the reported number
    metric_line: int | None = None
    val_bpb: float | None = None
    val_loss: float | None = None
    model_bytes: int | None = None
    code_bytes: int | None = None
    total_bytes: int | None = None
    train_time_s: float | None = None
    eval_time_s: float | None = None
    steps: int | None = None
    train_loss_curve: list[tuple[int, float]] = field(default_factory=list)
    val_bpb_curve: list[tuple[int, float]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Review:
    submission: dict[str, Any]  # name, path, sha256 of the folder's files, track
    verdict: str  # one of VERDICTS
    reason: str  # one line: why this verdict
    checks: list[Check] = field(default_factory=list)
    claims: dict[str, Any] = field(default_factory=dict)  # what submission.json / README claim
    runs: list[Run] = field(default_factory=list)
    lint: dict[str, Any] | None = None  # lint-ttt JSON for the submission's files
    byte_audit: dict[str, Any] | None = None  # tokenizer audit, when it ran
    probe: dict[str, Any] | None = None  # prefix-invariance probe, when it ran
    rescore: dict[str, Any] | None = None  # harness re-score (flat / sliding / ttt), when it ran
    sandbox: dict[str, Any] | None = None  # gauntlet / full-run steps, when they ran
    environment: dict[str, Any] = field(default_factory=dict)  # versions, device, git sha
    commands: list[str] = field(default_factory=list)  # exact commands to reproduce
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")

    def check(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Review":
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValueError(f"review schema_version {version} is not supported (this harness reads {SCHEMA_VERSION})")
        data = dict(data)
        data["checks"] = [
            Check(**{**c, "evidence": [Evidence(**e) for e in c.get("evidence", [])]}) for c in data.get("checks", [])
        ]
        runs = []
        for r in data.get("runs", []):
            r = dict(r)
            r["train_loss_curve"] = [tuple(x) for x in r.get("train_loss_curve", [])]
            r["val_bpb_curve"] = [tuple(x) for x in r.get("val_bpb_curve", [])]
            runs.append(Run(**r))
        data["runs"] = runs
        return cls(**data)


def combine_verdict(checks: list[Check]) -> str:
    """fail if any check fails, else warn if any warns, else pass."""
    statuses = {c.status for c in checks}
    if "fail" in statuses:
        return "fail"
    if "warn" in statuses:
        return "warn"
    return "pass"


def verdict_and_reason(checks: list[Check]) -> tuple[str, str]:
    """The combined verdict and its one-line reason: the first check with that status (at most 300 characters)."""
    verdict = combine_verdict(checks)
    first = next((c for c in checks if c.status == verdict), None) if verdict != "pass" else None
    reason = f"{first.id}: {first.message}" if first else "every check that applies passes"
    if len(reason) > 300:
        reason = reason[:297] + "..."
    return verdict, reason
