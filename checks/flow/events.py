"""Events the interpreter records while it walks the program in execution order."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoopFrame:
    """One enclosing loop: which loop (node identity in its call context), whether it walks the
    validation data ("data") or repeats work ("repeat": epochs, steps), and which statement of its
    body the event sits in."""

    loop_id: str
    kind: str
    index: int  # statement index inside the loop body
    line: int
    var: str = ""


@dataclass
class Event:
    eid: int
    kind: str  # SCORE | UPDATE | REPORT | WRITE | NET | TREAD | VSOURCE
    unit: int
    line: int
    col: int
    func: str  # enclosing function qualname
    path: tuple  # tuple[LoopFrame, ...] outermost first
    seq: int  # order of first occurrence
    conds: tuple = ()  # conditions on the way: (text, env names)
    calls: tuple = ()  # call chain: (caller function, line) outermost first
    # details
    objs: frozenset = frozenset()  # SCORE: objects the scored value depends on; UPDATE: what is updated
    tags: frozenset = frozenset()
    scores: frozenset = frozenset()  # REPORT / SCORE: provenance of accumulated scores
    acc: str = ""  # SCORE: accumulator name
    grad: bool = True  # SCORE: grad mode at the accumulation
    gated: str = ""  # SCORE: text of an `if` that guards the accumulation inside a loop
    update_kind: str = ""  # UPDATE: step | backward | count | write
    fresh_in_loop: bool = False  # UPDATE: the updated tensor/params were created inside the same loop
    label: str = ""  # REPORT: the literal text around the printed metric
    text: str = ""  # source text of the line
    extra: dict = field(default_factory=dict)

    @property
    def where(self) -> tuple[int, int]:
        return (self.unit, self.line)
