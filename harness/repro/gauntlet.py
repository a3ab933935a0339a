"""The CPU smoke gauntlet, run in the sandbox: import, hyperparameters, build, forward (see
``harness.repro.child.gauntlet`` for the steps). Turns the child's step file into a check."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.repro.settings import ReproSettings
from harness.review import Check, Evidence
from harness.sandbox import private_copy, run_sandboxed

STEPS = ("import", "hyperparameters", "build", "forward")


def run_gauntlet(folder: Path, script: str, settings: ReproSettings) -> tuple[Check, dict]:
    workdir = private_copy(folder, settings.work_root / "gauntlet")
    argv = [sys.executable, "-m", "harness.repro.child.gauntlet", "--script", script, "--out", "gauntlet.json"]
    result = run_sandboxed(argv, cwd=workdir, policy=settings.policy(settings.gauntlet_wall_s),
                           log_dir=settings.work_root / "logs", name="gauntlet")
    out = workdir / "gauntlet.json"
    steps = json.loads(out.read_text(encoding="utf-8"))["steps"] if out.is_file() else []
    done = {s["step"] for s in steps}
    for name in STEPS:  # a step the child never reached: it hung, was killed or crashed the process
        if name not in done:
            steps.append({"step": name, "status": "not reached", "seconds": 0.0, "detail": result.message})
            break
    data = {"steps": steps, "sandbox": result.to_dict()}
    failed = next((s for s in steps if s["status"] in ("failed", "not reached")), None)
    evidence = [Evidence(path=script, text=f"{s['step']}: {s['status']} - {s['detail']}") for s in steps]
    if failed is None and result.status == "ok":
        return Check("repro.gauntlet", "pass", f"ran {script} in the sandbox ({result.network} network, "
                     f"{result.filesystem} filesystem confinement): " + ", ".join(s["step"] for s in steps) + " all ok",
                     evidence, data), data
    # a script that does not even import is broken; one that cannot build or run on this machine
    # (CUDA-only code, FlashAttention) is worth a look but not a failed submission
    status = "fail" if failed and failed["step"] in ("import", "hyperparameters") else "warn"
    what = f"{failed['step']} {failed['status']}: {failed['detail']}" if failed else result.message
    tail = result.tail(6)
    if tail:
        evidence.append(Evidence(path=f"{result.name}.stderr", text=tail[-800:]))
    return Check("repro.gauntlet", status, f"ran {script} in the sandbox; {what[:400]}", evidence, data), data
