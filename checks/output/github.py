"""GitHub workflow annotations: ``::error file=...,line=...,col=...,title=CODE name::message``."""

from __future__ import annotations

from checks.findings import FileResult
from checks.output.jsonfmt import outer_line

KIND = {"error": "error", "warning": "warning", "note": "notice"}


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _escape(text).replace(":", "%3A").replace(",", "%2C")


def render_github(results: list[FileResult]) -> str:
    out = []
    for r in results:
        for f in r.findings:
            path = f.location.path
            if f.location.virtual_path:  # decoded code: annotate the line that runs it, name the decoded line
                msg = f"{f.message} [decoded code {f.location.virtual_path} line {f.location.line}]"
                line, col = outer_line(f), 1
            else:
                msg, line, col = f.message, f.location.line, f.location.col
            out.append(f"::{KIND.get(f.severity, 'warning')} file={_prop(path)},line={line},col={col},"
                       f"title={_prop(f.code + ' ' + f.name)}::{_escape(msg)}")
    return "\n".join(out)
