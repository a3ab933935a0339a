"""Reports for a passing, a warning and a failing submission (own fixtures), and for real records."""

import json
import re
from html.parser import HTMLParser

import pytest

from harness.audit.runner import audit_submission
from harness.review import Review
from reports import render_html, render_markdown, render_sarif, write_review_outputs
from tests.audit.builders import make_submission, run_log, three_seeds
from checks.rules.ttt import AdaptBeforeScore

EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>'


class _Resources(HTMLParser):
    """Collects every attribute that could load something, and every script element."""

    def __init__(self):
        super().__init__()
        self.loads, self.scripts, self.text = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts += 1
        for k, v in attrs:
            if k in ("src", "href", "srcset", "poster", "data", "action", "xlink:href") and v:
                self.loads.append((tag, k, v))
            if k.startswith("on"):
                self.loads.append((tag, k, v))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Resources:
    p = _Resources()
    p.feed(html)
    return p


def assert_self_contained(html: str) -> None:
    p = parse(html)
    assert p.scripts == 0
    external = [x for x in p.loads if not (x[1] == "href" and (x[2].startswith("#") or x[2].startswith("docs/rules/")))]
    assert external == [], external
    assert not re.search(r"url\(|@import|https?://(?!json\.schemastore)", html.split("<body>")[0].split("<style>")[1])
    assert len(html.encode()) < 2_000_000


@pytest.fixture
def passing(tmp_path):
    return audit_submission(three_seeds(tmp_path / "good", values=(1.20, 1.21, 1.22)))


@pytest.fixture
def warning(tmp_path):
    # training stops 50 ms past the 600 s limit: the train-time check warns
    return audit_submission(three_seeds(tmp_path / "warn", values=(1.20, 1.21, 1.22), train_ms=600_050, steps=5000))


@pytest.fixture
def failing(tmp_path):
    code = AdaptBeforeScore.INVALID[0].source()
    logs = {f"train_seed{s}.log": run_log(seed=s, bpb=v, model_bytes=15_990_000, code_bytes=len(code.encode()),
                                          train_ms=640_000)
            for s, v in ((1, 1.1), (2, 1.12), (3, 1.11))}
    claims = {"name": f"Evil {EVIL}", "author": EVIL, "github_id": "x", "val_bpb": 1.10, "seeds": [1, 2, 3]}
    folder = make_submission(tmp_path / "bad", claims=claims, logs=logs, script=code)
    (folder / f"train_seed9_{'x' * 3}.log").write_text(run_log(seed=9, bpb=1.3, extra_lines=(EVIL,)))
    return audit_submission(folder)


def test_verdicts_of_the_fixtures(passing, warning, failing):
    assert passing.verdict == "pass"
    assert warning.verdict == "warn"
    assert failing.verdict == "fail"


@pytest.mark.parametrize("which", ["passing", "warning", "failing"])
def test_html_is_self_contained_and_shows_the_verdict(which, request):
    review = request.getfixturevalue(which)
    html = render_html(review)
    assert_self_contained(html)
    text = " ".join(parse(html).text)
    assert {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}[review.verdict] in text
    assert review.reason[:60] in text.replace("\n", " ") or review.reason[:30] in html
    for c in review.checks:
        assert f'id="check-{c.id}"' in html
    assert "<svg" in html  # per-seed BPB at least
    assert "Training loss per run" in html


def test_failing_report_escapes_submission_text_and_shows_the_finding(failing):
    html = render_html(failing)
    assert "<script>" not in html and "onerror=" not in html.replace("onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert_self_contained(html)
    # the lint finding with its excerpt, the rule link and the line
    line = AdaptBeforeScore.INVALID[0].expected_line
    assert 'href="docs/rules/TTT001.md"' in html
    assert re.search(rf'<span class="hl">\s*{line} │', html)
    assert "over the cap" not in html or "Artifact budget" in html
    assert "Training time per run" in html and "bar over" in html  # 640 s is over the 600 s limit


def test_markdown_is_comment_sized_and_neutralises_markup(failing):
    md = render_markdown(failing)
    assert "FAIL" in md and "TTT001" in md
    prose = re.sub(r"(`{3,}).*?\1", "", md, flags=re.S)  # fenced code is shown verbatim, never rendered
    assert "<script>" not in prose and "<img" not in prose and "&lt;script&gt;" in prose
    assert "@" not in md.replace("@\u200b", "")
    assert md.count("<details>") == md.count("</details>")
    small = render_markdown(failing, limit=3000)
    assert len(small) <= 3000


def test_markdown_fence_survives_backticks_in_code():
    from reports.render import _fence

    block = _fence([{"line": 1, "text": "x = '```'"}])
    assert block.startswith("````\n") and block.endswith("\n````")


def test_sarif_and_json_roundtrip(failing, tmp_path):
    sarif = json.loads(render_sarif(failing))
    assert sarif["runs"][0]["results"][0]["ruleId"] == "TTT001"
    paths = write_review_outputs(failing, html=tmp_path / "r.html", markdown=tmp_path / "r.md",
                                 json=tmp_path / "r.json", sarif=tmp_path / "r.sarif")
    assert [p.name for p in paths] == ["r.html", "r.md", "r.json", "r.sarif"]
    again = Review.from_dict(json.loads((tmp_path / "r.json").read_text()))
    assert render_html(again) == render_html(failing)


def test_report_command(failing, tmp_path, capsys):
    from harness.cli import main

    saved = tmp_path / "review.json"
    saved.write_text(json.dumps(failing.to_dict()))
    assert main(["report", str(saved), "--format", "md"]) == 0
    assert "TTT001" in capsys.readouterr().out
    assert main(["report", str(saved), "--format", "html", "-o", str(tmp_path / "out.html")]) == 0
    assert (tmp_path / "out.html").read_text().startswith("<!DOCTYPE html>")
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["report", str(tmp_path / "bad.json")]) == 2
    (tmp_path / "old.json").write_text(json.dumps({**failing.to_dict(), "schema_version": 99}))
    assert main(["report", str(tmp_path / "old.json")]) == 2


def test_evaluate_writes_the_default_html(tmp_path, monkeypatch):
    from harness.cli import main

    folder = three_seeds(tmp_path / "sub")
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", str(folder), "--offline"]) == 0
    assert (tmp_path / "sub.review.html").is_file()


def test_real_records_render(tmp_path):
    """Every record's submission.json and logs from ../shared/pg_records, audited and rendered."""
    from tests.shared_data import pg_records

    root = pg_records()
    folders = sorted({p.parent for p in root.rglob("submission.json")})
    assert folders
    for folder in folders[:: max(1, len(folders) // 12)]:
        review = audit_submission(folder, lint=False)
        html = render_html(review)
        assert_self_contained(html)
        md = render_markdown(review)
        assert len(md) <= 65_536
