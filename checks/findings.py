"""The records the linter passes between its stages and to every output format.

``SourceUnit``: one piece of Python source to analyse, as read from disk or decoded from a payload.
``Finding``: one rule hit. Lines are 1-based; columns are 1-based (libcst's are 0-based: add 1).
``FileResult``: the verdict for one path as given on the command line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

_LINE_REF = re.compile(r"\blines? \d+(?:-\d+)?|:\d+\b|\bL\d+\b")  # line references do not identify a finding

SEVERITIES = ("error", "warning", "note")
CONFIDENCES = ("high", "medium", "low")
VERDICTS = ("illegal", "warning", "clean", "unparsable")


@dataclass(frozen=True)
class SourceUnit:
    """Python source to analyse.

    ``path`` is the file as given (or found in a folder); ``virtual_path`` names decoded code, e.g.
    ``train_gpt.py::payload[0]``; ``reached`` says how the code was reached, outermost first
    (e.g. ``("exec at train_gpt.py:3", "b85decode", "lzma FORMAT_RAW/LZMA2")``); ``origin_line`` is
    the line of the outer ``exec`` (or other loader) in the file that contains it.
    """

    path: str
    text: str
    virtual_path: str | None = None
    reached: tuple[str, ...] = ()
    origin_line: int | None = None

    @property
    def display_path(self) -> str:
        return self.virtual_path or self.path


@dataclass(frozen=True)
class Location:
    path: str
    line: int
    col: int = 1
    end_line: int | None = None
    end_col: int | None = None
    virtual_path: str | None = None


@dataclass(frozen=True)
class EvidenceStep:
    """One step of the chain source -> ... -> sink, e.g. ('val_tokens bound', 120, 'val_tokens = load_validation_tokens(...)')."""

    description: str
    line: int | None = None
    code: str = ""


@dataclass(frozen=True)
class Finding:
    code: str  # e.g. "TTT001"
    name: str  # kebab case, e.g. "adapt-before-score"
    severity: str  # error | warning | note
    confidence: str  # high | medium | low
    message: str
    location: Location
    evidence: tuple[EvidenceStep, ...] = ()
    rulings: tuple[str, ...] = ()
    enclosing: str = ""  # enclosing function, for the fingerprint
    reachability: dict[str, Any] = field(default_factory=dict)  # {"defaults": bool, "readme_command": bool|None, "world_size_8": bool}
    reached: tuple[str, ...] = ()  # how the code was reached when it was decoded from a payload

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.code}: severity {self.severity!r} not in {SEVERITIES}")
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"{self.code}: confidence {self.confidence!r} not in {CONFIDENCES}")

    @property
    def fingerprint(self) -> str:
        """Stable across edits: no line numbers, only code, path, enclosing function and evidence text."""
        norm_path = (self.location.virtual_path or self.location.path).replace("\\", "/").rsplit("/", 1)[-1]
        parts = [self.code, norm_path, self.enclosing,
                 *(" ".join(_LINE_REF.sub("", s.description).split()) for s in self.evidence)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fingerprint"] = self.fingerprint
        return d


@dataclass
class FileResult:
    path: str  # as given on the command line
    verdict: str  # illegal | warning | clean | unparsable
    findings: list[Finding] = field(default_factory=list)
    reason: str = ""  # for unparsable: why
    units: list[str] = field(default_factory=list)  # display paths of the code analysed (incl. decoded payloads)
    texts: dict = field(default_factory=dict, repr=False, compare=False)  # display path -> source (for excerpts)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"{self.path}: verdict {self.verdict!r} not in {VERDICTS}")
