"""Ordering of score and update events: is every update on validation data preceded by the score
of the data it uses, and is the reported number the first score?

Two events inside the same loops are compared statement by statement, outermost loop first:

* they first sit in different statements of a loop that walks the validation data, with the score
  first: score-first (the update trains on data already scored; later iterations score new data);
* the update comes first in that iteration: train-then-score;
* a loop that repeats work (epochs) around the two re-scores data it already trained on, unless the
  accumulation is gated to the first repetition;
* no common loop: the update happens before (or after) the whole scoring.

Only updates that change something the score depends on count (shared object identities), so a
throwaway adapter trained during a compile warm-up does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from checks.flow.events import Event

DIAGNOSTIC_LABEL = re.compile(r"diagnostic|pre[-_ ]?quant|post[-_ ]?ema|ttt_chunk|progress|running|step[:= ]|warmup|epoch", re.I)


@dataclass(frozen=True)
class Relation:
    kind: str  # score_first | train_first | before | after | rescored_by_repeat
    loop_line: int = 0
    loop_kind: str = ""
    detail: str = ""


def exclusive(a: Event, b: Event) -> bool:
    """The two events sit in different arms of one ``if``: no single run reaches both."""
    arms = {c[2]: c[3] for c in a.conds if len(c) > 3}
    return any(len(c) > 3 and c[2] in arms and arms[c[2]] != c[3] for c in b.conds)


def relation(s: Event, u: Event) -> Relation:
    if exclusive(s, u):
        return Relation("exclusive")
    common = []
    for fs, fu in zip(s.path, u.path):
        if fs.loop_id != fu.loop_id:
            break
        common.append((fs, fu))
    if not common:
        return Relation("before" if u.seq < s.seq else "after")
    for i, (fs, fu) in enumerate(common):
        if fs.index == fu.index:
            continue
        outer_repeat = [f for f, _ in common[:i] if f.kind == "repeat"]
        if fs.index < fu.index:
            if fs.kind == "repeat":
                if _gated_first(s, fs.var):
                    return Relation("score_first", fs.line, fs.kind)
                return Relation("rescored_by_repeat", fs.line, fs.kind, f"a loop at line {fs.line} repeats the scoring after training")
            for rep in outer_repeat:
                if not _gated_first(s, rep.var):
                    return Relation("rescored_by_repeat", rep.line, rep.kind,
                                    f"the loop at line {rep.line} repeats the score-then-train loop over the same data")
            return Relation("score_first", fs.line, fs.kind)
        return Relation("train_first", fs.line, fs.kind)
    # same statement all the way down (e.g. score and update in one helper call): program order decides
    inner = common[-1][0]
    outer_repeat = [f for f, _ in common if f.kind == "repeat"]
    if s.seq < u.seq:
        for rep in outer_repeat:
            if not _gated_first(s, rep.var):
                return Relation("rescored_by_repeat", rep.line, rep.kind, f"the loop at line {rep.line} repeats it")
        return Relation("score_first", inner.line, inner.kind)
    return Relation("train_first", inner.line, inner.kind)


def _gated_first(s: Event, var: str) -> bool:
    """The accumulation is guarded by ``if <var> == 0`` (only the first repetition is scored)."""
    if not s.gated or not var:
        return False
    gate = s.gated.replace(" ", "")
    for v in re.split(r"[,()\s]+", var):
        if v and re.search(rf"\b{re.escape(v)}==0\b|\b0=={re.escape(v)}\b|\bnot{re.escape(v)}\b|\b{re.escape(v)}<1\b", gate):
            return True
    return False


def affects(u: Event, s: Event, inherit: dict | None = None) -> bool:
    """Does the update change something the score depends on? Directly (shared objects), or through
    an object that later took over the updated object's state (load_state_dict of a saved artifact,
    a deep copy made after the update)."""
    if u.objs & s.objs:
        return True
    if not inherit:
        return False
    seen = set()
    todo = list(s.objs)
    while todo:
        o = todo.pop()
        if o in seen:
            continue
        seen.add(o)
        for t, srcs in inherit.get(o, ()):
            if t > u.seq:
                if srcs & u.objs:
                    return True
                todo.extend(srcs)
    return False


def reported_scores(events: list[Event]) -> tuple[list[Event], Event | None]:
    """The SCORE events behind the reported number: those feeding the last metric report (not a
    diagnostic or progress line). Without any report, every score counts."""
    scores = {e.eid: e for e in events if e.kind == "SCORE"}
    reports = [e for e in events if e.kind == "REPORT"]
    finals = [r for r in reports if not DIAGNOSTIC_LABEL.search(r.label or "") and not any(f.kind == "repeat" and f.var for f in r.path)]
    # a script whose only metric line is the periodic validation in its training loop reports that
    periodic = [r for r in reports if "bpb" in (r.label or "").lower()]
    chosen = finals[-1] if finals else (periodic[-1] if periodic else (reports[-1] if reports else None))
    if chosen is None:
        return [e for e in scores.values() if "NLL" in e.tags], None
    fed = [scores[i] for i in sorted(chosen.scores) if i in scores]
    return fed, chosen


def updates(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind == "UPDATE" and "V" in e.tags]
