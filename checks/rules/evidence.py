"""Evidence chains for findings: validation data read -> update -> score -> report."""

from __future__ import annotations

from checks.findings import EvidenceStep
from checks.flow.events import Event


def via(e: Event) -> str:
    if not e.calls:
        return ""
    caller, line = e.calls[0]
    return f" (reached from {caller} line {line})"


def step(desc: str, e: Event | None) -> EvidenceStep | None:
    if e is None:
        return None
    return EvidenceStep(f"{desc} in {e.func}{via(e)}", e.line, e.text)


def describe_update(u: Event) -> str:
    return {
        "step": "optimizer step after a backward on validation tokens",
        "manual": "parameters changed in place from gradients of a loss on validation tokens",
        "grad": "gradients of a loss on validation tokens",
        "backward": "backward on a loss of validation tokens",
        "count": "count table written with validation tokens",
    }.get(u.update_kind, "update from validation tokens")


def chain(facts, update: Event | None, score: Event | None, extra: tuple = ()) -> tuple[EvidenceStep, ...]:
    steps = [step("validation data read", facts.first_source())]
    if update is not None:
        steps.append(step(describe_update(update), update))
    if score is not None:
        steps.append(step("score accumulated" + (" (grad on)" if score.grad else ""), score))
    steps.extend(extra)
    if facts.report is not None:
        steps.append(EvidenceStep("reported", facts.report.line, facts.report.text))
    return tuple(s for s in steps if s is not None)
