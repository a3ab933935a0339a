"""Full run, re-score and probe of a baseline-shaped submission, through the sandbox, on CPU.

The honest script's own flat evaluation and the harness's re-score of its artifact (logits served
over the pipe by the baseline adapter) must agree to float precision; a script that prints a better
number than its artifact gives, or whose attention sees the next token, must be caught."""

import json

import pytest

from harness.cli import main
from tests.repro.conftest import set_constant


def _evaluate(folder, data, tmp_path, *extra):
    out = tmp_path / "review.json"
    code = main(["evaluate", str(folder), "--data", str(data), "--seeds", "7", "--env", "ITERATIONS=15",
                 "--json", str(out), "--no-report", "--format", "json", *extra])
    review = json.loads(out.read_text())
    return code, review, {c["id"]: c for c in review["checks"]}


def test_honest_submission_rescored_to_float_precision(baseline_like, synth_data, tmp_path):
    code, review, checks = _evaluate(baseline_like, synth_data, tmp_path)
    assert checks["repro.gauntlet"]["status"] == "pass"
    # ITERATIONS shortens the run, so the reproduced number is reported but not held against the claim
    assert checks["repro.run"]["status"] == "skip" and "ITERATIONS" in checks["repro.run"]["message"]
    run = review["sandbox"]["runs"][0]
    assert run["sandbox"]["status"] == "ok" and run["sandbox"]["network"] == "isolated"
    assert run["artifacts"] == ["final_model.int8.ptz"]
    rescore = checks["repro.rescore"]
    assert rescore["status"] == "pass", rescore["message"]
    flat = next(m for m in rescore["data"]["modes"] if m["mode"] == "flat")
    assert flat["logged_label"] == "final_int8_zlib_roundtrip_exact"
    assert abs(flat["gap"]) < 1e-6
    assert flat["val_bpb"] == pytest.approx(run["val_bpb"], abs=1e-6)
    assert rescore["data"]["adapter"] == "baseline"
    assert checks["repro.probe"]["status"] == "pass"
    assert code == 1  # submission.json claims 3.0 for a run it never made: claim.logs fails


def test_a_log_better_than_the_artifact_is_a_finding(baseline_like, synth_data, tmp_path):
    set_constant(baseline_like, "REPORTED_BIAS", "-0.05")
    _, _, checks = _evaluate(baseline_like, synth_data, tmp_path, "--no-probe")
    rescore = checks["repro.rescore"]
    assert rescore["status"] == "fail"
    assert "final_int8_zlib_roundtrip_exact" in rescore["message"]
    flat = next(m for m in rescore["data"]["modes"] if m["mode"] == "flat")
    assert flat["gap"] == pytest.approx(0.05, abs=1e-6)


def test_attention_that_sees_the_next_token_fails_the_probe(baseline_like, synth_data, tmp_path):
    set_constant(baseline_like, "LOOKAHEAD", "1")
    _, review, checks = _evaluate(baseline_like, synth_data, tmp_path)
    probe = checks["repro.probe"]
    assert probe["status"] == "fail" and probe["data"]["differing_targets"] > 0
    assert review["probe"]["passed"] is False


USER_ADAPTER = '''
import io, zlib
import torch


class Served(torch.nn.Module):
    """What a participant might write for a script the baseline adapter does not know."""

    def __init__(self, module, model):
        super().__init__()
        self.model, self.vocab_size = model, module.Hyperparameters.vocab_size
        self.logits_seen = 0

    def forward_logits(self, ids):
        x = self.model.tok_emb(ids)
        for block in self.model.blocks:
            x = block(x)
        x = self.model.norm(x)
        cap = self.model.logit_softcap
        return cap * torch.tanh(torch.nn.functional.linear(x, self.model.tok_emb.weight) / cap)


def load(module, artifact, device):
    hp = module.Hyperparameters()
    model = module.GPT(hp.vocab_size, hp.num_layers, hp.model_dim, hp.num_heads, hp.logit_softcap)
    state = torch.load(io.BytesIO(zlib.decompress(artifact.read_bytes())), map_location="cpu")
    model.load_state_dict(module.dequantize_state_dict_int8(state))
    return Served(module, model.to(device).eval())
'''


def test_user_adapter_module_function(baseline_like, synth_data, tmp_path):
    (baseline_like / "my_adapter.py").write_text(USER_ADAPTER)
    _, review, checks = _evaluate(baseline_like, synth_data, tmp_path, "--adapter", "my_adapter:load", "--no-probe")
    rescore = checks["repro.rescore"]
    assert rescore["status"] == "pass", rescore["message"]
    assert review["rescore"]["adapter"] == "my_adapter:load"
    assert abs(rescore["data"]["modes"][0]["gap"]) < 1e-6


def test_user_adapter_that_returns_no_model_is_an_error(baseline_like, synth_data, tmp_path):
    (baseline_like / "my_adapter.py").write_text("def load(module, artifact, device):\n    return object()\n")
    out = tmp_path / "review.json"
    code = main(["evaluate", str(baseline_like), "--data", str(synth_data), "--seeds", "7", "--env", "ITERATIONS=5",
                 "--adapter", "my_adapter:load", "--no-probe", "--json", str(out), "--no-report", "--format", "json"])
    assert code == 2  # the harness could not score the artifact: it says why instead of a verdict
