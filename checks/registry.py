"""Every rule, by code; selection by code or family prefix (ruff style)."""

from __future__ import annotations

from checks.rules.base import Rule
from checks.rules.data import UndecodablePayload, Unparsable, ValidationDocsInTraining
from checks.rules.leakage import CalibrationOnValidation, NetworkOnEvalPath, TrainingDataAtEval, ValidationInArtifact
from checks.rules.ngram import CacheFromWholeStream, NgramTargetInKey
from checks.rules.ttt import AdaptBeforeScore, CalibrationOnScored, RescoreAfterAdaptation, SlotOnScoredRegion

RULES: tuple[type[Rule], ...] = (
    AdaptBeforeScore, RescoreAfterAdaptation, CalibrationOnScored, SlotOnScoredRegion,
    NgramTargetInKey, CacheFromWholeStream,
    CalibrationOnValidation, ValidationInArtifact, TrainingDataAtEval, NetworkOnEvalPath,
    ValidationDocsInTraining, Unparsable, UndecodablePayload,
)
BY_CODE = {r.CODE: r for r in RULES}


def select(select: list[str] | None = None, ignore: list[str] | None = None) -> list[type[Rule]]:
    """Rules whose code starts with one of ``select`` (all when None) and with none of ``ignore``."""
    out = []
    for r in RULES:
        if r.RETIRED:
            continue
        if select and not any(r.CODE.startswith(s.upper()) for s in select):
            continue
        if ignore and any(r.CODE.startswith(s.upper()) for s in ignore):
            continue
        out.append(r)
    return out


def get(code: str) -> type[Rule] | None:
    return BY_CODE.get(code.upper())
