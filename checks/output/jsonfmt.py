"""The lint-ttt JSON document (schema_version 1). Fields are only added within a version."""

from __future__ import annotations

import re
from pathlib import Path

from checks.findings import FileResult, Finding
from checks.registry import BY_CODE

SCHEMA_VERSION = 1
EXCERPT_LINES = 3


def tool_info() -> dict:
    from harness import __version__
    from harness.audit.runner import _git_sha

    return {"name": "parameter-golf-harness lint-ttt", "version": __version__, "git_sha": _git_sha()}


def excerpt(text: str, line: int, around: int = EXCERPT_LINES) -> list[dict]:
    lines = text.splitlines()
    lo, hi = max(1, line - around), min(len(lines), line + around)
    return [{"line": n, "text": lines[n - 1][:400]} for n in range(lo, hi + 1)]


def outer_line(f: Finding) -> int:
    """The line of the real file to annotate: for code decoded from a payload, the line that runs it."""
    if f.location.virtual_path and f.reached:
        m = re.match(r"exec at .*:(\d+)", f.reached[0])
        if m:
            return int(m.group(1))
        return 1
    return f.location.line


def finding_json(f: Finding, texts: dict | None = None) -> dict:
    d = {
        "rule": f.code,
        "name": f.name,
        "severity": f.severity,
        "confidence": f.confidence,
        "line": f.location.line,
        "col": f.location.col,
        "message": f.message,
        "path": f.location.path,
        "virtual_path": f.location.virtual_path,
        "file_line": outer_line(f),
        "enclosing": f.enclosing,
        "evidence": [{"description": e.description, "line": e.line, "code": e.code} for e in f.evidence],
        "reachability": f.reachability,
        "reached": list(f.reached),
        "rulings": list(f.rulings),
        "fingerprint": f.fingerprint,
    }
    if texts is not None:
        text = texts.get(f.location.virtual_path or f.location.path)
        if text:
            d["excerpt"] = excerpt(text, f.location.line)
    return d


def rule_json(code: str) -> dict:
    r = BY_CODE[code]
    return {"id": r.CODE, "name": r.NAME, "summary": r.SUMMARY, "severity": r.SEVERITY, "confidence": r.CONFIDENCE,
            "rulings": list(r.RULINGS), "version": r.VERSION, "help": (r.__doc__ or "").strip(),
            "docs": f"docs/rules/{r.CODE}.md"}


def to_json(results: list[FileResult], texts: dict | None = None, source_root: Path | None = None) -> dict:
    files = []
    used = set()
    counts = {"illegal": 0, "warning": 0, "clean": 0, "unparsable": 0}
    per_rule: dict[str, int] = {}
    for r in results:
        counts[r.verdict] += 1
        fs = []
        for f in r.findings:
            used.add(f.code)
            per_rule[f.code] = per_rule.get(f.code, 0) + 1
            fs.append(finding_json(f, texts if texts is not None else getattr(r, "texts", None)))
        files.append({"path": r.path, "verdict": r.verdict, "reason": r.reason, "units": r.units, "findings": fs})
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": tool_info(),
        "rules": [rule_json(c) for c in sorted(used)],
        "files": files,
        "summary": {"files": len(results), **counts, "findings": dict(sorted(per_rule.items()))},
    }
