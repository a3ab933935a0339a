import json

from harness.cli import main
from tests.audit.builders import three_seeds


def test_json_output_and_exit_codes(tmp_path, capsys):
    ok = three_seeds(tmp_path / "ok")
    assert main(["evaluate", str(ok), "--offline", "--format", "json", "--no-lint"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"submission", "verdict", "checks", "claims", "runs"} <= set(out)
    assert out["verdict"] == "pass" and len(out["runs"]) == 3
    assert all({"id", "status", "message", "evidence"} <= set(c) for c in out["checks"])
    bad = three_seeds(tmp_path / "bad", headline=1.0)
    assert main(["evaluate", str(bad), "--offline", "--format", "json", "--no-lint"]) == 1
    assert main(["evaluate", str(bad), "--offline", "--format", "json", "--no-lint", "--exit-zero"]) == 0


def test_text_summary_and_json_file(tmp_path, capsys):
    ok = three_seeds(tmp_path / "ok")
    out_json = tmp_path / "review.json"
    assert main(["evaluate", str(ok), "--offline", "--no-lint", "--no-report", "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "verdict: PASS" in text and "[PASS] claim.logs" in text
    assert json.loads(out_json.read_text())["verdict"] == "pass"


def test_missing_folder_and_bad_values_exit_2(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope"), "--offline"]) == 2
    assert "submission folder not found" in capsys.readouterr().err
    ok = three_seeds(tmp_path / "ok")
    assert main(["evaluate", str(ok), "--offline", "--against-values", "a,b"]) == 2


def test_against_values(tmp_path, capsys):
    ok = three_seeds(tmp_path / "ok", values=(1.10, 1.101, 1.102))
    main(["evaluate", str(ok), "--offline", "--no-lint", "--format", "json", "--against-values", "2.10,2.101,2.102"])
    sig = next(c for c in json.loads(capsys.readouterr().out)["checks"] if c["id"] == "significance")
    assert sig["status"] == "pass" and sig["data"]["n_old"] == 3


def test_batch_table(tmp_path, capsys):
    three_seeds(tmp_path / "records" / "a_good")
    three_seeds(tmp_path / "records" / "b_best_seed", headline=1.20)
    rc = main(["evaluate", str(tmp_path / "records"), "--offline", "--no-lint"])
    out = capsys.readouterr().out
    assert rc == 1 and "a_good" in out and "b_best_seed" in out and "claim.logs" in out
    assert "2 submissions: 1 pass, 1 fail" in out
