"""Each audit check's pass, warn, fail and skip paths on own fixtures."""

import base64
import json
import lzma

import pytest

from harness.audit.runner import audit_submission
from tests.audit.builders import make_submission, run_log, three_seeds


def check(review, cid):
    c = review.check(cid)
    assert c is not None
    return c


# ----------------------------------------------------------------- submission.files


def test_files_pass_and_missing(tmp_path):
    assert check(audit_submission(three_seeds(tmp_path / "ok"), lint=False), "submission.files").status == "pass"
    bare = make_submission(tmp_path / "bare", claims=None, logs={}, script=None, readme=None)
    c = check(audit_submission(bare, lint=False), "submission.files")
    assert c.status == "fail"
    for name in ("README.md", "submission.json", "train_gpt.py", "train log"):
        assert name in c.message


def test_malformed_json_names_file_and_line(tmp_path):
    root = make_submission(tmp_path / "s", claims='{\n  "val_bpb": 1.2,\n  oops\n}', logs={"train.log": run_log()})
    r = audit_submission(root, lint=False)
    c = check(r, "submission.files")
    assert c.status == "fail" and "submission.json:3" in c.message and "not valid JSON" in c.message
    assert check(r, "claim.logs").status == "skip" and r.verdict == "fail"


def test_wrong_types_and_missing_author(tmp_path):
    root = make_submission(tmp_path / "s", claims={"name": "x", "val_bpb": "1.2", "bytes_total": 1.5}, logs={"train.log": run_log()})
    c = check(audit_submission(root, lint=False), "submission.files")
    assert c.status == "fail" and '"val_bpb" should be a number' in c.message and '"bytes_total"' in c.message
    root2 = make_submission(tmp_path / "t", claims={"name": "x", "val_bpb": 1.2}, logs={"train.log": run_log(bpb=1.2)})
    c2 = check(audit_submission(root2, lint=False), "submission.files")
    assert c2.status == "warn" and 'missing "author"' in c2.message


def test_headline_stored_under_val_loss_is_read_and_flagged(tmp_path):
    root = make_submission(tmp_path / "s", claims={"name": "x", "author": "a", "val_loss": 1.2}, logs={"train.log": run_log(bpb=1.2)})
    r = audit_submission(root, lint=False)
    assert check(r, "claim.logs").status == "pass"
    assert check(r, "submission.files").status == "warn" and "stored under" in check(r, "submission.files").message


# ----------------------------------------------------------------- claim.logs


def test_claim_is_the_mean(tmp_path):
    c = check(audit_submission(three_seeds(tmp_path / "s"), lint=False), "claim.logs")
    assert c.status == "pass" and "1.21000000 over 3 log(s)" in c.message
    assert {e.path for e in c.evidence} == {"train_seed1337.log", "train_seed42.log", "train_seed2025.log"}


def test_claim_is_the_best_seed(tmp_path):
    c = check(audit_submission(three_seeds(tmp_path / "s", headline=1.20), lint=False), "claim.logs")
    assert c.status == "fail" and "the best run's value" in c.message and "seed 1337" in c.message


def test_claim_in_no_log(tmp_path):
    c = check(audit_submission(three_seeds(tmp_path / "s", headline=1.15), lint=False), "claim.logs")
    assert c.status == "fail" and "appears in no log" in c.message


def test_claim_is_a_pre_quantization_number(tmp_path):
    logs = {f"train_seed{s}.log": run_log(seed=s, bpb=1.20, pre_quant_bpb=1.18) for s in (1, 2)}
    root = make_submission(tmp_path / "s", claims={"name": "x", "author": "a", "val_bpb": 1.18}, logs=logs)
    c = check(audit_submission(root, lint=False), "claim.logs")
    assert c.status == "fail" and "pre-quantization" in c.message


def test_claim_is_another_final_metric(tmp_path):
    logs = {f"train_seed{s}.log": run_log(seed=s, bpb=1.20, tail_lines=(f"legal_ttt_exact val_loss:2.0 val_bpb:{1.30 + s / 100:.8f}",))
            for s in (1, 2)}
    root = make_submission(tmp_path / "s", claims={"name": "x", "author": "a", "val_bpb": 1.20}, logs=logs)
    c = check(audit_submission(root, lint=False), "claim.logs")
    assert c.status == "warn" and "final_int8_zlib_roundtrip" in c.message and "another final metric" in c.message


def test_claim_from_a_subset_of_logs(tmp_path):
    logs = {f"run{i}.log": run_log(seed=1000 + i, bpb=v) for i, v in enumerate((1.30, 1.20, 1.22, 1.50))}
    root = make_submission(tmp_path / "s", claims={"name": "x", "author": "a", "val_bpb": 1.21}, logs=logs)
    c = check(audit_submission(root, lint=False), "claim.logs")
    assert c.status == "warn" and "2 of the 4 run logs" in c.message


def test_per_seed_values_are_cross_checked(tmp_path):
    root = three_seeds(tmp_path / "s")
    claims = json.loads((root / "submission.json").read_text())
    claims["seed_results"] = {"1337": {"val_bpb": 1.20}, "42": {"val_bpb": 1.25}}
    (root / "submission.json").write_text(json.dumps(claims))
    c = check(audit_submission(root, lint=False), "claim.logs")
    assert c.status == "fail" and "seed 42 claims 1.25" in c.message


def test_rerun_logs_for_the_same_seed(tmp_path):
    logs = {"train_seed1_original.log": run_log(seed=1, bpb=1.30), "train_seed1_rerun.log": run_log(seed=1, bpb=1.20),
            "train_seed2.log": run_log(seed=2, bpb=1.22)}
    claims = {"name": "x", "author": "a", "val_bpb": 1.21, "seed_results": {"1": {"val_bpb": 1.20}, "2": {"val_bpb": 1.22}}}
    c = check(audit_submission(make_submission(tmp_path / "s", claims=claims, logs=logs), lint=False), "claim.logs")
    assert c.status == "pass" and "also present: train_seed1_original.log" in c.message


def test_no_logs_skips(tmp_path):
    root = make_submission(tmp_path / "s", claims={"name": "x", "author": "a", "val_bpb": 1.2}, logs={})
    assert check(audit_submission(root, lint=False), "claim.logs").status == "skip"


# ----------------------------------------------------------------- size.cap / size.code_bytes


def test_size_pass_and_fail_against_shipped_code(tmp_path):
    ok = three_seeds(tmp_path / "ok", model_bytes=15_900_000)
    assert check(audit_submission(ok, lint=False), "size.cap").status == "pass"
    big_script = "x = 1\n" * 20_000  # 120,000 bytes shipped
    over = three_seeds(tmp_path / "over", code=big_script, model_bytes=15_900_000)
    c = check(audit_submission(over, lint=False), "size.cap")
    assert c.status == "fail" and "15,900,000 + 120,000 = 16,020,000" in c.message


def test_logged_computed_code_size_is_not_what_ships(tmp_path):
    code = "x = 1\n" * 20_000
    log = run_log(model_bytes=15_950_000, code_bytes=None, tail_lines=(
        "Code size (uncompressed): 120000 bytes", "Code size (compressed): 28000 bytes",
        "Total submission size quantized+brotli: 15978000 bytes"))
    root = make_submission(tmp_path / "s", claims={"name": "x", "author": "a", "val_bpb": 1.2}, logs={"train.log": log}, script=code)
    r = audit_submission(root, lint=False)
    c = check(r, "size.cap")
    assert c.status == "fail" and "a computed size of code the folder does not ship" in c.message
    assert check(r, "size.code_bytes").status == "pass"  # the uncompressed count is the shipped file


def _wrapper(source: str) -> str:
    blob = base64.b85encode(lzma.compress(source.encode(), format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2}])).decode()
    return f'import lzma as L,base64 as B\nexec(L.decompress(B.b85decode("{blob}"),format=L.FORMAT_RAW,filters=[{{"id":L.FILTER_LZMA2}}]))\n'


def test_code_bytes_conventions(tmp_path):
    source = "def main():\n    return 42\n" * 400
    wrapper = _wrapper(source)
    ok = make_submission(tmp_path / "ok", claims={"name": "x", "author": "a", "val_bpb": 1.2},
                         logs={"train.log": run_log(code_bytes=len(wrapper))}, script=wrapper)
    c = check(audit_submission(ok, lint=False), "size.code_bytes")
    assert c.status == "pass"
    other = make_submission(tmp_path / "other", claims={"name": "x", "author": "a", "val_bpb": 1.2},
                            logs={"train.log": run_log(code_bytes=len(source))}, script=wrapper)
    c = check(audit_submission(other, lint=False), "size.code_bytes")
    assert c.status == "warn" and "decoded source inside the wrapper" in c.message
    bad = make_submission(tmp_path / "bad", claims={"name": "x", "author": "a", "val_bpb": 1.2},
                          logs={"train.log": run_log(code_bytes=12345)}, script=wrapper)
    c = check(audit_submission(bad, lint=False), "size.code_bytes")
    assert c.status == "fail" and "not produced by this file" in c.message


def test_stub_plus_sibling_is_what_ships(tmp_path):
    stub = 'exec(open(__file__.replace("train_gpt.py","train_gpt_decode.py")).read())\n'
    sibling = "x = 1\n" * 5000
    root = make_submission(tmp_path / "s", claims={"name": "x", "author": "a", "val_bpb": 1.2},
                           logs={"train.log": run_log(code_bytes=len(stub) + len(sibling), model_bytes=15_000_000)},
                           script=stub, extra={"train_gpt_decode.py": sibling})
    r = audit_submission(root, lint=False)
    assert check(r, "size.code_bytes").status == "pass"
    c = check(r, "size.cap")
    assert c.status == "pass" and "train_gpt_decode.py" in c.message


def test_size_without_script_uses_logged_code_and_warns(tmp_path):
    root = make_submission(tmp_path / "s", claims={"name": "x", "author": "a", "val_bpb": 1.2},
                           logs={"train.log": run_log(model_bytes=15_990_000, code_bytes=20_000)}, script=None)
    r = audit_submission(root, lint=False)
    assert check(r, "size.cap").status == "warn" and check(r, "size.code_bytes").status == "skip"


# ----------------------------------------------------------------- time.train / time.eval


def test_train_time(tmp_path):
    assert check(audit_submission(three_seeds(tmp_path / "a", train_ms=590_000), lint=False), "time.train").status == "pass"
    c = check(audit_submission(three_seeds(tmp_path / "b", train_ms=600_050, steps=5000), lint=False), "time.train")
    assert c.status == "warn" and "less than two steps" in c.message
    c = check(audit_submission(three_seeds(tmp_path / "c", train_ms=650_000), lint=False), "time.train")
    assert c.status == "fail" and "650.0 s" in c.message


def test_calibration_after_the_clock_counts(tmp_path):
    c = check(audit_submission(three_seeds(tmp_path / "a", train_ms=590_000,
                                           extra_lines=("GPTQ:collected 67 Hessians in 25.0s",)), lint=False), "time.train")
    assert c.status == "fail" and "calibration on training data outside the clock" in c.message
    c = check(audit_submission(three_seeds(tmp_path / "b", train_ms=588_000, extra_lines=(
        "gptq:reserving 12s, effective=588000ms", "GPTQ:collected 67 Hessians in 11.0s")), lint=False), "time.train")
    assert c.status == "pass"


def test_eval_time_with_compile_warmup(tmp_path):
    assert check(audit_submission(three_seeds(tmp_path / "a", eval_ms=500_000), lint=False), "time.eval").status == "pass"
    c = check(audit_submission(three_seeds(tmp_path / "b", eval_ms=500_000,
                                           extra_lines=("ttt_lora:compile warmup done (150.0s)",)), lint=False), "time.eval")
    assert c.status == "fail" and "150.0 s compile warm-up" in c.message


def test_non_record_track_has_no_time_limit(tmp_path):
    root = three_seeds(tmp_path / "track_non_record_16mb" / "s", train_ms=14_400_000)
    r = audit_submission(root, lint=False)
    assert check(r, "time.train").status == "skip" and check(r, "time.eval").status == "skip"


# ----------------------------------------------------------------- verdict and significance


def test_verdict_combines_checks(tmp_path):
    assert audit_submission(three_seeds(tmp_path / "p"), lint=False).verdict == "pass"
    assert audit_submission(three_seeds(tmp_path / "w", train_ms=600_050, steps=5000), lint=False).verdict == "warn"
    r = audit_submission(three_seeds(tmp_path / "f", headline=1.0), lint=False)
    assert r.verdict == "fail" and r.reason.startswith("claim.logs")


def test_significance_through_the_audit(tmp_path):
    new = three_seeds(tmp_path / "new", values=(1.10, 1.101, 1.102))
    old = three_seeds(tmp_path / "old", values=(1.20, 1.201, 1.202))
    c = check(audit_submission(new, against=old, lint=False), "significance")
    assert c.status == "pass" and "p=" in c.message
    c = check(audit_submission(old, against=new, lint=False), "significance")
    assert c.status == "fail"
    assert check(audit_submission(new, lint=False), "significance").status == "skip"
