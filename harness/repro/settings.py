"""What a reproduction run is allowed: limits, network, extra environment, paths. One object the
pipeline builds from the command line and every sandboxed step reads."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.sandbox import SandboxPolicy

SHIM_DIR = Path(__file__).resolve().parent / "shims"
HARNESS_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the harness package
TRAIN_LIMIT_S = 600.0  # the challenge's training cap
EVAL_LIMIT_S = 600.0  # and its evaluation cap


@dataclass
class ReproSettings:
    work_root: Path  # private copies and captured output go here
    allow_network: bool = False
    mem_bytes: int | None = None
    grace_s: float = 120.0  # on top of the challenge's limits: start-up, compile, data loading
    gauntlet_wall_s: float = 300.0
    rescore_wall_s: float = 3600.0
    env: dict[str, str] = field(default_factory=dict)  # --env K=V, e.g. ITERATIONS for a short run
    readable: tuple[Path, ...] = ()  # the data folder

    def policy(self, wall_s: float, env: dict[str, str] | None = None) -> SandboxPolicy:
        full_env = {**child_pythonpath(), **(env or {})}
        return SandboxPolicy(wall_s=wall_s, mem_bytes=self.mem_bytes, allow_network=self.allow_network, env=full_env,
                             readable=tuple(p.resolve() for p in self.readable), grace_s=10.0)


def child_pythonpath() -> dict[str, str]:
    """PYTHONPATH for sandboxed children: the harness itself (its child-side modules run there, also
    from a source checkout that is not installed) and, where FlashAttention-3 is not installed, the
    shim that maps it to SDPA (later records import ``flash_attn_interface``)."""
    paths = [str(HARNESS_ROOT)]
    env = {}
    if importlib.util.find_spec("flash_attn_interface") is None:
        paths.append(str(SHIM_DIR))
        env["PG_HARNESS_FA3_SHIM"] = "1"
    return {"PYTHONPATH": os.pathsep.join(paths), **env}
