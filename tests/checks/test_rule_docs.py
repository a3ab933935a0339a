"""docs/rules/ is generated from the rule classes; a stale page fails here (regenerate: python -m checks.docs)."""

from pathlib import Path

from checks.docs import expected_docs, render_rule
from checks.registry import RULES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"


def test_rule_pages_are_current():
    stale = []
    for name, text in expected_docs().items():
        page = DOCS / name
        if not page.is_file() or page.read_text(encoding="utf-8") != text:
            stale.append(name)
    assert not stale, f"stale rule docs {stale}: run `python -m checks.docs`"


def test_rule_page_carries_rulings_and_examples():
    for rule in RULES:
        page = render_rule(rule)
        assert page.startswith(f"# {rule.CODE} `{rule.NAME}`")
        for ruling in rule.RULINGS:
            assert ruling in page
        for case in rule.INVALID:
            assert case.source().rstrip() in page


def test_explain_prints_the_page(capsys):
    from harness.cli import main

    assert main(["lint-ttt", "--explain", "ttt001"]) == 0
    assert capsys.readouterr().out.startswith("# TTT001")
    assert main(["lint-ttt", "--explain", "XYZ999"]) == 2
