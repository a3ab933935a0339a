"""A 2-process gloo run gives the same scores as 1 process (sums reduced in float64)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.engine.dist_worker import MODES, evaluate_all
from tests.shared_data import REPO_ROOT


import pytest


@pytest.fixture(scope="module")
def single():
    return evaluate_all()


@pytest.mark.parametrize("world", [1, 2])
def test_gloo_process_group_equals_plain_single_process(tmp_path, single, world):
    """world 2 splits windows, chunk sequences and documents across ranks; world 1 runs every
    collective on a group of one (the code path a single GPU takes under torchrun)."""
    init, out = tmp_path / "init", tmp_path / "out.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.engine.dist_worker", str(r), str(world), str(init), str(out)],
                         cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for r in range(world)
    ]
    logs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    double = json.loads(Path(out).read_text())
    for mode in MODES:
        a, b = single[mode], double[mode]
        assert b["world_size"] == world and a["world_size"] == 1
        assert a["tokens"] == b["tokens"] and a["bytes"] == b["bytes"], mode
        assert math.isclose(a["val_loss"], b["val_loss"], rel_tol=1e-9), (mode, a["val_loss"], b["val_loss"])
        assert math.isclose(a["val_bpb"], b["val_bpb"], rel_tol=1e-9), mode
        assert np.allclose(a["per_token"], b["per_token"], rtol=0, atol=1e-9), mode
