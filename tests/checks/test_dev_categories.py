"""Every category of the hand-checked dev set has an own fixture here, and each gets its verdict.

The fixtures (tests/fixtures/lint/<category>/) are this project's code, written from the category
descriptions; the real PR heads are checked by test_dev_clone.py against a local clone.
"""

import json
from pathlib import Path

import pytest

from checks.api import lint_paths
from tests.shared_data import ttt_labels as labels_path


def ttt_labels():
    return [json.loads(line) for line in labels_path().read_text().splitlines() if line.strip()]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lint"
EXPECTED = {k: v for k, v in json.loads((FIXTURES / "expected.json").read_text()).items() if not k.startswith("_")}


def test_every_dev_category_has_a_fixture():
    categories = {row["category"] for row in ttt_labels()}
    assert categories <= set(EXPECTED), sorted(categories - set(EXPECTED))
    for cat in EXPECTED:
        assert (FIXTURES / cat / "train_gpt.py").is_file(), cat


def test_fixture_verdicts_match_the_dev_rows():
    """A category's fixture gets the verdict the dev set gives that category (legal/no_ttt -> clean)."""
    for row in ttt_labels():
        want = "illegal" if row["verdict"] == "illegal" else "clean"
        assert EXPECTED[row["category"]]["verdict"] == want, row["category"]


@pytest.fixture(scope="module")
def results():
    # one pool for all fixtures (folder context: README, logs and data-prep scripts are read)
    folders = [str(FIXTURES / cat) for cat in EXPECTED]
    return dict(zip(EXPECTED, lint_paths(folders, jobs=2)))


@pytest.mark.parametrize("category", sorted(EXPECTED))
def test_fixture_verdict(results, category):
    result = results[category]
    fired = {f.code for f in result.findings if f.severity == "error"}
    assert result.verdict == EXPECTED[category]["verdict"], [(f.code, f.location.line, f.message) for f in result.findings]
    assert set(EXPECTED[category]["rules"]) <= fired, fired
