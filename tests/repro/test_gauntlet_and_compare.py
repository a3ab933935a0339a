"""The gauntlet's steps on broken scripts, and the full run's comparison with the claim."""

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.repro.fullrun import MIN_TOLERANCE, compare, tolerance
from harness.repro.gauntlet import run_gauntlet
from harness.repro.settings import ReproSettings

BROKEN = {
    "raises_at_import": ("import nonexistent_module_xyz\n", "fail", "import", "ModuleNotFoundError"),
    "cuda_only_model": ("""
        import os
        import torch
        class Hyperparameters:
            vocab_size = 64
            model_dim = int(os.environ.get("MODEL_DIM", 32))
        class GPT(torch.nn.Module):
            def __init__(self, vocab_size, model_dim):
                super().__init__()
                raise RuntimeError("Found no NVIDIA driver on your system")
        """, "warn", "build", "no NVIDIA driver"),
    "hangs_at_import": ("while True:\n    pass\n", "fail", "import", "wallclock"),
    "forward_without_cross_entropy": ("""
        import torch
        class Hyperparameters:
            vocab_size = 64
        class GPT(torch.nn.Module):
            def __init__(self, vocab_size):
                super().__init__()
                self.emb = torch.nn.Embedding(vocab_size, 8)
            def forward(self, ids, targets):
                return self.emb(ids).pow(2).mean()
        """, "warn", "forward", "does not end in torch.nn.functional.cross_entropy"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_gauntlet_reports_the_failing_step(name, tmp_path):
    source, status, step, why = BROKEN[name]
    folder = tmp_path / name
    folder.mkdir()
    (folder / "train_gpt.py").write_text(textwrap.dedent(source))
    settings = ReproSettings(work_root=tmp_path / "work", gauntlet_wall_s=4.0)
    check, data = run_gauntlet(folder, "train_gpt.py", settings)
    assert check.status == status, check.message
    failed = next(s for s in data["steps"] if s["status"] in ("failed", "not reached"))
    assert failed["step"] == step and why in failed["detail"], failed
    assert (folder / "train_gpt.py").read_text() == textwrap.dedent(source)  # the sandbox ran a copy


def _run(seed, bpb, status="ok"):
    result = SimpleNamespace(status=status, message=f"exit {status}", seconds=1.0, name=f"run_seed{seed}")
    reported = None if bpb is None else SimpleNamespace(val_bpb=bpb, line=10, text=f"final val_bpb:{bpb}", label="final")
    log = SimpleNamespace(reported=reported)
    return SimpleNamespace(seed=seed, result=result, log=log, log_path=Path(f"seed{seed}.log"), val_bpb=bpb)


CLAIMS = {"val_bpb": 1.1000, "seeds": {"1": {"val_bpb": 1.0990}, "2": {"val_bpb": 1.1010}, "3": {"val_bpb": 1.1000}}}


def test_tolerance_is_three_seed_deviations_with_a_floor():
    assert tolerance([1.0990, 1.1010, 1.1000]) == pytest.approx(0.003)
    assert tolerance([1.1, 1.1]) == MIN_TOLERANCE
    assert tolerance([1.1]) == MIN_TOLERANCE


def test_reproduced_seeds_within_the_spread_pass():
    check = compare([_run(1, 1.1005), _run(2, 1.0985)], CLAIMS, ReproSettings(work_root=Path(".")), 1320)
    assert check.status == "pass", check.message


def test_a_seed_off_by_more_than_the_spread_fails_and_says_by_how_much():
    check = compare([_run(1, 1.1005), _run(2, 1.1100)], CLAIMS, ReproSettings(work_root=Path(".")), 1320)
    assert check.status == "fail"
    assert "seed 2" in check.message and "+0.00900" in check.message


def test_a_run_that_did_not_finish_fails():
    check = compare([_run(1, None, status="timeout")], CLAIMS, ReproSettings(work_root=Path(".")), 1320)
    assert check.status == "fail" and "seed 1" in check.message


def test_a_shortened_run_is_reported_not_compared():
    settings = ReproSettings(work_root=Path("."), env={"ITERATIONS": "50"})
    check = compare([_run(1, 1.5)], CLAIMS, settings, 1320)
    assert check.status == "skip" and "1.50000" in check.message
