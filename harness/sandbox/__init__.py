"""Run untrusted submission code in a confined child process.

Every execution of submission code goes through this package: a private copy of the folder as the
working directory, a fresh network namespace (or a refusal), Landlock filesystem rules where the
kernel has them, no capabilities, a scrubbed environment, wallclock and memory caps enforced on the
whole process tree, and output captured to files. See docs/sandbox.md.
"""

from harness.sandbox.confine import describe_capabilities, landlock_abi, mount_namespace_available, network_isolation_available
from harness.sandbox.policy import DEFAULT_PASS_ENV, DEFAULT_PASS_ENV_PREFIXES, SandboxError, SandboxPolicy, SandboxRefused, child_environment
from harness.sandbox.run import SandboxProcess, SandboxResult, private_copy, run_sandboxed, start_sandboxed

__all__ = [
    "DEFAULT_PASS_ENV",
    "DEFAULT_PASS_ENV_PREFIXES",
    "SandboxError",
    "SandboxPolicy",
    "SandboxProcess",
    "SandboxRefused",
    "SandboxResult",
    "child_environment",
    "describe_capabilities",
    "landlock_abi",
    "mount_namespace_available",
    "network_isolation_available",
    "private_copy",
    "run_sandboxed",
    "start_sandboxed",
]
