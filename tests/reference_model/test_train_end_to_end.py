"""tiny_cpu trains on the real FineWeb sample (real sp1024 tokenizer), its loss falls, and the folder
it writes passes the harness's own audit."""

import json
import re

import pytest

from tests.shared_data import fineweb_docs, tokenizer

OVERRIDES = ["model.vocab_size=1024", "train.iterations=16", "train.batch_tokens=2048", "train.log_every=4",
             "quant.calibration_batches=2", "eval.stride=64", "eval.ttt_chunk_tokens=4096"]


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    from harness.data.prepare import prepare_shards
    from reference_model.train import main

    root = tmp_path_factory.mktemp("refmodel")
    tok = tokenizer("fineweb_1024_bpe")
    prepare_shards(fineweb_docs(), tok, root / "data", val_docs=3, progress=False)
    out = root / "submission"
    args = ["--preset", "tiny_cpu", "--data", str(root / "data"), "--tokenizer", str(tok), "--out", str(out),
            "--seeds", "1337,42"]
    for o in OVERRIDES:
        args += ["--set", o]
    assert main(args) == 0
    return out


def _train_losses(log: str) -> list[float]:
    return [float(m) for m in re.findall(r"^step:\d+/\d+ train_loss:([\d.]+)", log, re.M)]


def test_loss_falls_and_recurrence_switches_on(submission):
    for seed in (1337, 42):
        log = (submission / f"train_seed{seed}.log").read_text()
        losses = _train_losses(log)
        assert len(losses) >= 4 and losses[-1] < losses[0] - 0.5, losses
        assert "recurrence: 3 passes" in log
        assert re.search(r"^legal_ttt_exact val_loss:[\d.]+ val_bpb:[\d.]+$", log, re.M)


def test_folder_contents_agree(submission):
    claims = json.loads((submission / "submission.json").read_text())
    logs = {s: (submission / f"train_seed{s}.log").read_text() for s in (1337, 42)}
    per_seed = {int(s): v["val_bpb"] for s, v in claims["seeds"].items()}
    for seed, log in logs.items():
        bpb = float(re.search(r"^legal_ttt_exact val_loss:[\d.]+ val_bpb:([\d.]+)$", log, re.M).group(1))
        assert per_seed[seed] == pytest.approx(bpb, abs=1e-8)
        code = int(re.search(r"^Code size: (\d+) bytes$", log, re.M).group(1))
        assert code == len((submission / "train_gpt.py").read_bytes())
        model = int(re.search(r"^Serialized model int6\+lzma: (\d+) bytes$", log, re.M).group(1))
        assert model == len((submission / f"final_model_seed{seed}.ptz").read_bytes())
    assert claims["val_bpb"] == pytest.approx(sum(per_seed.values()) / 2, abs=1e-8)


def test_artifact_alone_reproduces_the_roundtrip_score(submission):
    import torch

    from harness.engine.api import run_mode
    from harness.engine.stream import EvalStream
    from reference_model.train import load_artifact

    data = submission.parent / "data"
    model = load_artifact((submission / "final_model_seed1337.ptz").read_bytes(), torch.device("cpu"))
    stream = EvalStream.from_dataset(data, tokenizer("fineweb_1024_bpe"), seq_len=128, vocab_size=1024)
    result = run_mode("flat", model, stream, seq_len=128)
    log = (submission / "train_seed1337.log").read_text()
    logged = float(re.search(r"_roundtrip_exact val_loss:[\d.]+ val_bpb:([\d.]+)$", log, re.M).group(1))
    assert result.val_bpb == pytest.approx(logged, abs=1e-7)


def test_harness_audit_passes(submission):
    from harness.audit.runner import audit_submission

    review = audit_submission(submission)
    failing = [(c.id, c.status, c.message) for c in review.checks if c.status in ("fail", "warn")]
    assert review.verdict == "pass", failing
    assert review.check("lint.ttt").status == "pass"
    assert review.check("claim.logs").status == "pass"
