"""Facts the rules read, derived once per run from the interpreter's trace."""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.flow.events import Event
from checks.flow.order import Relation, affects, relation, reported_scores, updates


@dataclass(frozen=True)
class Violation:
    kind: str  # adapt_before_score | train_then_score | rescore | rescore_repeat | slot | cache_before_score | calibration
    update: Event
    score: Event
    rel: Relation


@dataclass
class Facts:
    events: list
    reported: list  # SCORE events behind the reported number
    report: Event | None
    violations: list = field(default_factory=list)
    writes: list = field(default_factory=list)
    network: list = field(default_factory=list)
    treads: list = field(default_factory=list)
    sources: list = field(default_factory=list)

    def first_source(self) -> Event | None:
        return self.sources[0] if self.sources else None


def derive_facts(events: list[Event], inherit: dict | None = None) -> Facts:
    reported, report = reported_scores(events)
    facts = Facts(events, reported, report)
    facts.sources = [e for e in events if e.kind == "VSOURCE"]
    facts.writes = [e for e in events if e.kind == "WRITE"]
    facts.network = [e for e in events if e.kind == "NET"]
    facts.treads = [e for e in events if e.kind == "TREAD"]
    ups = updates(events)
    scores_all = [e for e in events if e.kind == "SCORE"]
    # which updates are themselves legal score-first TTT with respect to some score
    score_first_updates = {u.eid for u in ups for s in scores_all if affects(u, s, inherit) and relation(s, u).kind == "score_first"}
    seen = set()
    for s in reported:
        for u in ups:
            if not affects(u, s, inherit):
                continue
            rel = relation(s, u)
            kind = None
            if rel.kind == "before":
                if u.update_kind == "count":
                    kind = "cache_before_score"
                elif u.eid in score_first_updates:
                    kind = "rescore"
                else:
                    kind = "adapt_before_score"
            elif rel.kind == "train_first":
                if u.update_kind == "count":
                    kind = "cache_before_score"
                elif u.fresh_in_loop:
                    kind = "slot"
                else:
                    kind = "train_then_score"
            elif rel.kind == "rescored_by_repeat":
                kind = "rescore_repeat"
            if kind is None:
                continue
            key = (kind, u.eid)
            if key in seen:
                continue
            seen.add(key)
            facts.violations.append(Violation(kind, u, s, rel))
    # a score computed from other scores of the same tokens: a value fitted on scored tokens
    by_id = {e.eid: e for e in scores_all}
    for s in reported:
        for src_id in s.scores:
            src = by_id.get(src_id)
            if src is None or src is s or src.seq > s.seq:
                continue
            if src.func == s.func and src.path and s.path and src.path[0].loop_id == s.path[0].loop_id:
                continue  # the same accumulation chain
            if "NLL" in src.tags and src.acc and (src.acc != s.acc or src.calls != s.calls or src.path != s.path) \
                    and _separate_pass(src, s):
                key = ("calibration", src.eid)
                if key not in seen:
                    seen.add(key)
                    facts.violations.append(Violation("calibration", src, s, Relation("before")))
    return facts


def _separate_pass(a: Event, b: Event) -> bool:
    """a and b score in different passes over the data (no common loop that walks it)."""
    common = [fa for fa, fb in zip(a.path, b.path) if fa.loop_id == fb.loop_id]
    return not any(f.kind == "data" for f in common)
