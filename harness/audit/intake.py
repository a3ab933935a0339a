"""Intake of a records-style submission folder: what files are there and what they are."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.audit.claims import Claims, load_claims
from harness.audit.logparse import ParsedLog, parse_log
from harness.errors import MissingDataError, SubmissionError

LOG_SUFFIXES = (".log", ".txt")
NOT_LOGS = re.compile(r"^(requirements.*|readme.*|license.*|notes?.*|.*\.md)$", re.I)
MAX_LOG_BYTES = 64 * 1024 * 1024


@dataclass
class Submission:
    root: Path
    name: str
    readme: Path | None = None
    submission_json: Path | None = None
    claims: Claims | None = None
    claims_error: SubmissionError | None = None
    scripts: list[Path] = field(default_factory=list)  # train_gpt*.py at the top of the folder
    siblings: dict[str, list[Path]] = field(default_factory=dict)  # script name -> files it runs
    logs: list[ParsedLog] = field(default_factory=list)
    skipped_logs: list[str] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    @property
    def main_script(self) -> Path | None:
        for p in self.scripts:
            if p.name == "train_gpt.py":
                return p
        return self.scripts[0] if self.scripts else None

    def run_logs(self) -> list[ParsedLog]:
        """Logs of runs: those that report a final metric."""
        return [log for log in self.logs if log.reported is not None]

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for p in sorted(self.root.rglob("*")):
            if p.is_file() and ".git" not in p.parts:
                h.update(self.rel(p).encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
        return h.hexdigest()


def find_siblings(script: Path) -> list[Path]:
    """Files in the script's folder that it runs: ``exec(open(...).read())`` of a sibling named in a
    string literal (the 74-byte stub shape) or a wrapper that delegates to another file."""
    text = script.read_text(encoding="utf-8-sig", errors="replace")
    if "exec(" not in text and "runpy" not in text and "import_module" not in text:
        return []
    found = []
    for lit in re.findall(r"""["']([\w.\-/]+\.py)["']""", text):
        cand = script.parent / lit
        if cand.is_file() and cand != script and cand not in found:
            found.append(cand)
    return found


def load_submission(folder: str | Path) -> Submission:
    root = Path(folder)
    if not root.is_dir():
        raise MissingDataError("submission folder not found", path=root)
    sub = Submission(root=root, name=root.name)
    for cand in ("README.md", "readme.md", "README.MD"):
        if (root / cand).is_file():
            sub.readme = root / cand
            break
    jsons = sorted(root.glob("submission*.json"))
    if jsons:
        sub.submission_json = next((j for j in jsons if j.name == "submission.json"), jsons[0])
        try:
            sub.claims = load_claims(sub.submission_json, sub.rel(sub.submission_json))
            if sub.claims.name:
                sub.name = sub.claims.name
        except SubmissionError as exc:
            sub.claims_error = exc
    sub.scripts = sorted(p for p in root.glob("train_gpt*.py") if p.is_file())
    for s in sub.scripts:
        sib = find_siblings(s)
        if sib:
            sub.siblings[s.name] = sib
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in LOG_SUFFIXES or NOT_LOGS.match(p.name) or ".git" in p.parts:
            continue
        if p.stat().st_size > MAX_LOG_BYTES:
            sub.skipped_logs.append(f"{sub.rel(p)} (larger than {MAX_LOG_BYTES} bytes)")
            continue
        parsed = parse_log(p, sub.rel(p))
        if parsed.reported is None and not parsed.train_curve and not parsed.val_curve and parsed.model_bytes is None:
            sub.skipped_logs.append(f"{sub.rel(p)} (no training-log lines)")
            continue
        sub.logs.append(parsed)
    return sub
