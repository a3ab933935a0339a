"""What a sandboxed run may do: its limits, its environment, the paths it may read and write.

The policy is data. ``run.py`` turns it into a launcher spec; ``confine.py`` applies the spec in the
child. Everything not named here is denied or dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from harness.errors import HarnessError


class SandboxError(HarnessError):
    """A sandboxed run could not be started as asked (bad policy, launcher failure, unsafe copy)."""

    slug = "sandbox"


class SandboxRefused(SandboxError):
    """The system cannot provide a confinement the caller asked for (e.g. no network namespace)."""

    slug = "sandbox"


# Variables a training or evaluation run legitimately needs from the parent. Nothing in them is a
# credential; anything else (tokens, cloud keys, HOME, SSH agent sockets, ...) is dropped.
DEFAULT_PASS_ENV: tuple[str, ...] = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TERM",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "CUDA_HOME",
    "CUDA_LAUNCH_BLOCKING",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "LD_LIBRARY_PATH",
    "TRITON_INTERPRET",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "PYTORCH_CUDA_ALLOC_CONF",
)

# NCCL reads dozens of NCCL_* knobs (interfaces, P2P, debug); none of them carries a secret.
DEFAULT_PASS_ENV_PREFIXES: tuple[str, ...] = ("NCCL_",)

# Used when the parent has no PATH at all, so that `python`, `torchrun` etc. still resolve.
FALLBACK_PATH = "/usr/local/bin:/usr/bin:/bin"

# Directories created inside the working copy and pointed at by HOME and TMPDIR, so that caches
# (torch, triton, pip) and temporary files land inside the only writable tree.
HOME_DIRNAME = ".home"
TMP_DIRNAME = "tmp"


@dataclass
class SandboxPolicy:
    """Limits and permissions for one sandboxed run.

    ``wall_s``: wallclock cap; at the cap the whole process group gets SIGTERM, then SIGKILL after
    ``grace_s``. ``mem_bytes``: cap on the summed RSS of every process of the run (None: no cap);
    at the cap the processes are killed at once. ``allow_network``: run in the parent's network
    namespace instead of a fresh, empty one. ``env``: variables the run needs (set last, so they
    win over passed and default ones). ``pass_env`` / ``pass_env_prefixes``: names copied from the
    parent environment when present. ``readable`` / ``writable``: extra paths besides the working
    copy and the system paths. ``nofile``: optional RLIMIT_NOFILE.
    """

    wall_s: float
    mem_bytes: int | None = None
    allow_network: bool = False
    env: dict[str, str] = field(default_factory=dict)
    pass_env: tuple[str, ...] = DEFAULT_PASS_ENV
    pass_env_prefixes: tuple[str, ...] = DEFAULT_PASS_ENV_PREFIXES
    readable: tuple[Path, ...] = ()
    writable: tuple[Path, ...] = ()
    grace_s: float = 5.0
    nofile: int | None = None

    def validate(self) -> None:
        """Raise SandboxError naming the first field that cannot be honoured."""
        if not self.wall_s > 0:
            raise SandboxError(f"SandboxPolicy.wall_s must be > 0 seconds, got {self.wall_s!r}")
        if self.grace_s < 0:
            raise SandboxError(f"SandboxPolicy.grace_s must be >= 0 seconds, got {self.grace_s!r}")
        if self.mem_bytes is not None and self.mem_bytes <= 0:
            raise SandboxError(f"SandboxPolicy.mem_bytes must be > 0 or None, got {self.mem_bytes!r}")
        if self.nofile is not None and self.nofile < 16:
            raise SandboxError(f"SandboxPolicy.nofile must be >= 16 or None, got {self.nofile!r}")
        for key, value in self.env.items():
            if not isinstance(key, str) or not isinstance(value, str) or not key or "=" in key or "\0" in key + value:
                raise SandboxError(f"SandboxPolicy.env: {key!r}={value!r} is not a valid environment entry")
        for kind, paths in (("readable", self.readable), ("writable", self.writable)):
            for path in paths:
                if not Path(path).is_absolute():
                    raise SandboxError(f"SandboxPolicy.{kind}: {path} is not an absolute path")
                if not Path(path).exists():
                    raise SandboxError(f"SandboxPolicy.{kind}: {path} does not exist")


def child_environment(policy: SandboxPolicy, workdir: Path, parent_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The complete environment of the child: passed names, HOME/TMPDIR in the copy, then policy.env."""
    parent_env = os.environ if parent_env is None else parent_env
    env: dict[str, str] = {}
    for name in policy.pass_env:
        if name in parent_env:
            env[name] = parent_env[name]
    for name, value in parent_env.items():
        if policy.pass_env_prefixes and name.startswith(tuple(policy.pass_env_prefixes)):
            env[name] = value
    env.setdefault("PATH", FALLBACK_PATH)
    home = workdir / HOME_DIRNAME
    tmp = workdir / TMP_DIRNAME
    env["HOME"] = str(home)
    env["TMPDIR"] = str(tmp)
    env["TMP"] = str(tmp)
    env["TEMP"] = str(tmp)
    env["PWD"] = str(workdir)
    env.update(policy.env)
    return env
