"""analyze_units: every rule over the code of one submission, with reachability.

The units (a script, the payloads decoded from it, the sibling a stub runs) are parsed once and
interpreted in up to four configurations:

  all              every branch explored (finds illegal paths that are present but switched off)
  defaults         environment variables at the code's own defaults, one GPU
  readme_command   the environment the README / log run command sets (when one is stated)
  world_size_8     8 GPUs (paths enabled by world_size > 1), with the run command's settings

A finding reachable in any but the first is an error; one found only with every branch explored
is a warning (an illegal path that is off and never enabled).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.findings import EvidenceStep, Finding, Location, SourceUnit
from checks.flow.facts import derive_facts
from checks.flow.interp import _MEMO, Interpreter
from checks.flow.program import UnparsableSource, parse_unit
from checks.registry import RULES, get
from checks.rules.data import UndecodablePayload, Unparsable, ValidationDocsInTraining

REACH_MODES = ("defaults", "readme_command", "world_size_8")

__all__ = ["AnalysisContext", "UnparsableSource", "analyze_units"]


@dataclass(frozen=True)
class AnalysisContext:
    env_overrides: dict | None = None  # env vars the README/log run command sets; None = none stated
    readme_command: str | None = None
    logs: tuple[str, ...] = ()  # texts of the submission's logs (data-preparation evidence)
    undecodable: tuple[tuple[str, int, str], ...] = ()  # (path, line, reason) payloads the loader could not decode
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    data_preparation: tuple[SourceUnit, ...] = ()  # other scripts in the folder that write challenge shards


@dataclass
class _Collected:
    hit: object
    rule: type
    modes: set = field(default_factory=set)


def _location(unit: SourceUnit, line: int, col: int) -> Location:
    return Location(unit.path, max(line, 1), max(col, 1), virtual_path=unit.virtual_path)


def analyze_units(units: list[SourceUnit], context: AnalysisContext = AnalysisContext()) -> list[Finding]:
    rules = [r for r in RULES if _selected(r.CODE, context)]
    findings: list[Finding] = []
    indexes = []
    for i, unit in enumerate(units):
        try:
            indexes.append(parse_unit(len(indexes), unit))
        except UnparsableSource as exc:
            if len(units) == 1:
                raise
            if _selected(Unparsable.CODE, context):
                findings.append(_finding(Unparsable, unit, exc.line or 1, exc.col or 1, {"reason": exc.reason}, (),
                                         "error", "high", {}, ""))
    for path, line, reason in context.undecodable:
        if _selected(UndecodablePayload.CODE, context):
            unit = next((u for u in units if u.path == path and u.virtual_path is None), SourceUnit(path, ""))
            findings.append(_finding(UndecodablePayload, unit, line, 1, {"reason": reason}, (), "warning", "high", {}, ""))
    if not indexes:
        return findings
    runs = [("all", dict(explore_all=True)), ("defaults", {})]
    env = dict(context.env_overrides or {})
    if context.env_overrides:
        runs.append(("readme_command", dict(env=env)))
    runs.append(("world_size_8", dict(env=env, world_size=8)))
    collected: dict[str, _Collected] = {}
    instances = [r() for r in rules]
    for mode, kw in runs:
        interp = Interpreter(indexes, mode=mode, **kw)
        events = interp.run()
        facts = derive_facts(events, interp.inherit)
        for rule in instances:
            for hit in rule.check(facts, context):
                c = collected.get(hit.key)
                if c is None or (mode in REACH_MODES and not (c.modes & set(REACH_MODES))):
                    collected[hit.key] = c = _Collected(hit, type(rule), c.modes if c else set())
                c.modes.add(mode)
        if mode == "all" and not collected:
            # exploring every branch is the widest run: with nothing found there, the narrower
            # configurations (which only fix branch conditions) cannot find anything either
            break
    for c in collected.values():
        reach = {m: (m in c.modes) for m in REACH_MODES}
        if not context.env_overrides:
            reach["readme_command"] = None
        reachable = any(v for v in reach.values())
        severity = c.hit.severity or (c.rule.SEVERITY if reachable else "warning")
        if not reachable and severity == "error":
            severity = "warning"
        confidence = c.hit.confidence or c.rule.CONFIDENCE
        if not reachable and confidence == "high":
            confidence = "medium"
        unit = indexes[c.hit.unit].unit
        findings.append(_finding(c.rule, unit, c.hit.line, c.hit.col, c.hit.params, c.hit.evidence, severity, confidence,
                                 reach, c.hit.enclosing))
    # data preparation scripts among the units
    if _selected(ValidationDocsInTraining.CODE, context):
        dat = ValidationDocsInTraining()
        for i, unit in enumerate([idx.unit for idx in indexes] + list(context.data_preparation)):
            for hit in dat.scan(i, unit.text, list(context.logs)):
                findings.append(_finding(ValidationDocsInTraining, unit, hit.line, hit.col, hit.params, hit.evidence,
                                         hit.severity, hit.confidence, {}, ""))
    _MEMO.clear()
    findings.sort(key=lambda f: (f.location.virtual_path or f.location.path, f.location.line, f.location.col, f.code))
    return findings


def _selected(code: str, context: AnalysisContext) -> bool:
    if context.select and not any(code.startswith(s.upper()) for s in context.select):
        return False
    if context.ignore and any(code.startswith(s.upper()) for s in context.ignore):
        return False
    return True


def _finding(rule, unit: SourceUnit, line: int, col: int, params: dict, evidence, severity: str, confidence: str,
             reach: dict, enclosing: str) -> Finding:
    r = rule()
    message = r.message(params)
    if reach and not any(v for v in reach.values()):
        message += " (present, but no run configuration reaches it: switched off and never enabled)"
    return Finding(code=rule.CODE, name=rule.NAME, severity=severity, confidence=confidence, message=message,
                   location=_location(unit, line, col), evidence=tuple(evidence), rulings=tuple(rule.RULINGS),
                   enclosing=enclosing, reachability=reach, reached=unit.reached)


def explain(code: str) -> str:
    rule = get(code)
    if rule is None:
        raise KeyError(code)
    from checks.docs import render_rule

    return render_rule(rule)
