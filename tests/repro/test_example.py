"""`harness evaluate` with no argument: the bundled example through every stage, and a full
training run of it in the sandbox (train, evaluate, re-score, report)."""

import json

import pytest

from harness.cli import main


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    # the example's data is regenerated into the cache; keep the test's copy private
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


def _checks(review):
    return {c["id"]: c for c in review["checks"]}


def test_default_evaluate_runs_audit_lint_gauntlet_rescore_probe_and_report(tmp_path):
    html, js = tmp_path / "review.html", tmp_path / "review.json"
    assert main(["evaluate", "--html", str(html), "--json", str(js)]) == 0
    review = json.loads(js.read_text())
    checks = _checks(review)
    for cid in ("claim.logs", "size.cap", "lint.ttt", "repro.gauntlet", "repro.rescore", "repro.probe"):
        assert checks[cid]["status"] == "pass", (cid, checks[cid]["message"])
    modes = {m["mode"]: m for m in review["rescore"]["modes"]}
    assert set(modes) == {"flat", "sliding", "ttt_sgd"}
    for m in modes.values():  # the same code on the same CPU: the logged numbers to print precision
        assert abs(m["gap"]) < 1e-6, m
    assert review["rescore"]["adapter"] == "reference"
    text = html.read_text()
    assert "Re-score by the harness" in text and "Prefix-invariance probe" in text and "Sandboxed runs" in text


def test_full_run_of_the_tiny_cpu_submission(tmp_path):
    js = tmp_path / "review.json"
    assert main(["evaluate", "--train", "--seeds", "1337", "--json", str(js), "--no-report", "--format", "json"]) == 0
    review = json.loads(js.read_text())
    checks = _checks(review)
    run = checks["repro.run"]
    assert run["status"] == "pass", run["message"]
    row = run["data"]["runs"][0]
    assert row["seed"] == 1337 and abs(row["gap"]) < 1e-6  # deterministic CPU training reproduces the claim
    assert checks["repro.rescore"]["status"] == "pass"
    assert review["rescore"]["target"] == "seed 1337 (reproduced)"
