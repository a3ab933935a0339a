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


def test_two_gloo_processes_equal_one(tmp_path):
    single = evaluate_all()
    init, out = tmp_path / "init", tmp_path / "out.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.engine.dist_worker", str(r), "2", str(init), str(out)],
                         cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for r in range(2)
    ]
    logs = [p.communicate(timeout=300)[0].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(logs)
    double = json.loads(Path(out).read_text())
    for mode in MODES:
        a, b = single[mode], double[mode]
        assert b["world_size"] == 2 and a["world_size"] == 1
        assert a["tokens"] == b["tokens"] and a["bytes"] == b["bytes"], mode
        assert math.isclose(a["val_loss"], b["val_loss"], rel_tol=1e-9), (mode, a["val_loss"], b["val_loss"])
        assert math.isclose(a["val_bpb"], b["val_bpb"], rel_tol=1e-9), mode
        assert np.allclose(a["per_token"], b["per_token"], rtol=0, atol=1e-9), mode
