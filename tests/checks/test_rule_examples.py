"""Every rule's embedded examples: the valid ones lint clean, the invalid ones are flagged at the marked line."""

import pytest

from checks.api import lint_source
from checks.registry import RULES

CASES = [pytest.param(rule, "valid", case, id=f"{rule.CODE}-valid-{i}") for rule in RULES for i, case in enumerate(rule.VALID)]
CASES += [pytest.param(rule, "invalid", case, id=f"{rule.CODE}-invalid-{i}") for rule in RULES
          for i, case in enumerate(rule.INVALID)]


@pytest.mark.parametrize("rule,kind,case", CASES)
def test_rule_example(rule, kind, case):
    result = lint_source(case.source(), "example.py")
    if kind == "valid":
        assert result.findings == [], [(f.code, f.location.line, f.message) for f in result.findings]
        assert result.verdict == "clean"
        return
    hits = [f for f in result.findings if f.code == rule.CODE]
    assert hits, f"{rule.CODE} did not fire; got {[(f.code, f.location.line) for f in result.findings]}"
    assert case.expected_line in {f.location.line for f in hits}, [(f.location.line, f.message) for f in hits]
    if case.message_contains:
        assert any(case.message_contains in f.message for f in hits), [f.message for f in hits]
    worst = min((f.severity for f in hits), key=("error", "warning", "note").index)
    expected_verdict = {"error": "illegal", "warning": "warning", "note": "clean"}[worst]
    if rule.CODE == "HAR001":
        expected_verdict = "unparsable"
    assert result.verdict == expected_verdict


def test_every_rule_has_a_flagged_example_and_documentation():
    for rule in RULES:
        assert rule.INVALID, f"{rule.CODE} has no invalid example"
        assert rule.SUMMARY and rule.MESSAGE and rule.NAME
        doc = rule.__doc__ or ""
        assert "What it flags" in doc, rule.CODE
        assert "Why it" in doc, rule.CODE
        assert "Legal alternative" in doc, rule.CODE


def test_rule_codes_are_unique_and_well_formed():
    import re

    codes = [r.CODE for r in RULES]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[A-Z]{3}\d{3}", c) for c in codes)
    names = [r.NAME for r in RULES]
    assert len(names) == len(set(names))
