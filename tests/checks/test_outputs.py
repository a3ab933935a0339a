"""lint-ttt output formats and exit codes, end to end through the CLI."""

import base64
import json
import lzma

import pytest

from checks.rules.ttt import AdaptBeforeScore, RescoreAfterAdaptation
from harness.cli import main

ILLEGAL = AdaptBeforeScore.INVALID[0].source()
LEGAL = RescoreAfterAdaptation.VALID[0].source() if RescoreAfterAdaptation.VALID else AdaptBeforeScore.VALID[0].source()


@pytest.fixture
def submission(tmp_path):
    legal = tmp_path / "legal"
    legal.mkdir()
    (legal / "train_gpt.py").write_text(LEGAL)
    illegal = tmp_path / "illegal"
    illegal.mkdir()
    (illegal / "train_gpt.py").write_text(ILLEGAL)
    wrapped = tmp_path / "wrapped.py"
    blob = base64.b85encode(lzma.compress(ILLEGAL.encode())).decode()
    wrapped.write_text(f"import lzma, base64\n\n\nexec(lzma.decompress(base64.b85decode({blob!r})))\n")
    return tmp_path


def run(capsys, *argv):
    code = main(["lint-ttt", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_exit_codes(submission, capsys):
    assert run(capsys, submission / "legal")[0] == 0
    assert run(capsys, submission / "illegal")[0] == 1
    assert run(capsys, submission / "illegal", "--exit-zero")[0] == 0
    assert run(capsys, submission / "missing")[0] == 2
    assert run(capsys)[0] == 2
    assert run(capsys, submission / "illegal", "--select", "NGR")[0] == 0
    assert run(capsys, submission / "illegal", "--ignore", "TTT001")[0] == 0


def test_json_document(submission, capsys):
    code, out, _ = run(capsys, submission / "legal", submission / "illegal", "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["schema_version"] == 1
    assert [f["path"] for f in doc["files"]] == [str(submission / "legal" / "train_gpt.py"),
                                                 str(submission / "illegal" / "train_gpt.py")]
    assert [f["verdict"] for f in doc["files"]] == ["clean", "illegal"]
    finding = doc["files"][1]["findings"][0]
    assert {"rule", "severity", "line", "col", "message", "evidence", "reachability", "fingerprint"} <= set(finding)
    assert finding["rule"] == "TTT001" and finding["line"] == AdaptBeforeScore.INVALID[0].expected_line
    assert finding["reachability"]["defaults"] is True
    assert any(e["line"] == finding["line"] for e in finding["excerpt"])
    assert doc["summary"]["illegal"] == 1 and doc["summary"]["clean"] == 1
    assert doc["rules"][0]["id"] == "TTT001" and doc["rules"][0]["docs"] == "docs/rules/TTT001.md"


def test_fingerprint_is_stable_when_lines_move(tmp_path):
    from checks.api import lint_source

    a = lint_source(ILLEGAL, "train_gpt.py").findings
    b = lint_source("# a comment\n\n" + ILLEGAL, "train_gpt.py").findings
    assert [f.location.line + 2 for f in a] == [f.location.line for f in b]
    assert [f.fingerprint for f in a] == [f.fingerprint for f in b]


def test_sarif(submission, capsys):
    code, out, _ = run(capsys, submission / "illegal", submission / "wrapped.py", "--format", "sarif")
    sarif = json.loads(out)
    assert code == 1 and sarif["version"] == "2.1.0"
    run0 = sarif["runs"][0]
    ids = [r["id"] for r in run0["tool"]["driver"]["rules"]]
    for res in run0["results"]:
        assert ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note")
    decoded = [r for r in run0["results"] if r["properties"]["virtualPath"]]
    assert decoded and decoded[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    assert "decoded code" in decoded[0]["message"]["text"]


def test_github_annotations(submission, capsys):
    code, out, _ = run(capsys, submission / "illegal", submission / "wrapped.py", "--format", "github")
    lines = out.strip().splitlines()
    assert code == 1 and len(lines) == 2
    line = AdaptBeforeScore.INVALID[0].expected_line
    assert lines[0].startswith(f"::error file={submission / 'illegal' / 'train_gpt.py'},line={line},")
    assert "title=TTT001 adapt-before-score::" in lines[0]
    assert lines[1].startswith(f"::error file={submission / 'wrapped.py'},line=4,col=1,")
    assert f"line {line}]" in lines[1]


def test_text_output(submission, capsys):
    code, out, _ = run(capsys, submission / "illegal", "--show-source")
    line = AdaptBeforeScore.INVALID[0].expected_line
    assert f"train_gpt.py:{line}:" in out and "TTT001 [error]" in out
    assert f">{line:5d} |" in out
    assert "reachable: defaults=yes" in out
    assert out.strip().endswith("1 file(s): 1 illegal")
