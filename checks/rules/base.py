"""What a rule is: a small class with a code, a message, rulings, and embedded examples.

A rule reads the facts of each analysis run (checks/flow/facts.py) and yields hits; the engine
turns hits into findings and decides severity from reachability (an illegal path reachable under
the defaults, the README/log run command or 8 GPUs is an error; one that is present but never
switched on is a warning).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import ClassVar, Iterator

from checks.findings import EvidenceStep


@dataclass(frozen=True)
class Valid:
    code: str

    def source(self) -> str:
        return textwrap.dedent(self.code).lstrip("\n")


MARK = "# <-"


@dataclass(frozen=True)
class Invalid:
    """An example the rule must flag, at the line marked ``# <-`` (or the explicit ``line``)."""

    code: str
    line: int = 0
    message_contains: str = ""

    def source(self) -> str:
        return textwrap.dedent(self.code).lstrip("\n")

    @property
    def expected_line(self) -> int:
        if self.line:
            return self.line
        for i, text in enumerate(self.source().splitlines(), start=1):
            if MARK in text:
                return i
        raise ValueError("an Invalid example needs a line number or a '# <-' marker")


@dataclass
class Hit:
    unit: int
    line: int
    col: int
    params: dict
    evidence: tuple[EvidenceStep, ...]
    key: str  # identity of the hit across runs (so reachability can be merged)
    enclosing: str = ""
    confidence: str | None = None
    severity: str | None = None  # override (e.g. a note)
    extra: dict = field(default_factory=dict)


class Rule:
    CODE: ClassVar[str]
    NAME: ClassVar[str]
    SEVERITY: ClassVar[str] = "error"
    CONFIDENCE: ClassVar[str] = "high"
    MESSAGE: ClassVar[str]
    SUMMARY: ClassVar[str]
    RULINGS: ClassVar[tuple[str, ...]] = ()
    VERSION: ClassVar[int] = 1
    RETIRED: ClassVar[bool] = False
    VALID: ClassVar[tuple[Valid, ...]] = ()
    INVALID: ClassVar[tuple[Invalid, ...]] = ()

    def check(self, facts, ctx) -> Iterator[Hit]:  # pragma: no cover - each rule implements it
        raise NotImplementedError

    def message(self, params: dict) -> str:
        try:
            return self.MESSAGE.format(**params)
        except (KeyError, IndexError):
            return self.MESSAGE
