"""The sandbox stops what it says it stops: fixture submissions that reach for the network, read
secrets, run forever, eat memory or tamper with files outside their copy, and ordinary runs.

Each fixture writes what happened to report.json in its private copy; the tests read that and the
SandboxResult. Every denial test has a control (the same attempt with the permission granted, or
with the mechanism off) so that a broken fixture cannot pass for a working sandbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.sandbox import (
    SandboxError,
    SandboxPolicy,
    SandboxRefused,
    child_environment,
    landlock_abi,
    mount_namespace_available,
    network_isolation_available,
    private_copy,
    run_sandboxed,
    start_sandboxed,
)
from harness.sandbox import confine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sandbox"
PY = sys.executable

needs_netns = pytest.mark.skipif(not network_isolation_available(), reason="no network namespace on this system (unshare -n / -rn both fail)")
needs_landlock = pytest.mark.skipif(landlock_abi() == 0, reason="Landlock is not available in this kernel; the filesystem is not confined")


def copy_fixture(name: str, tmp_path: Path) -> Path:
    return private_copy(FIXTURES / name, tmp_path / "work")


def run_fixture(tmp_path: Path, name: str, policy: SandboxPolicy, *, copy: Path | None = None, run_name: str = "run"):
    copy = copy or copy_fixture(name, tmp_path)
    proc = start_sandboxed([PY, "train_gpt.py"], cwd=copy, policy=policy, log_dir=tmp_path / "logs", name=run_name)
    try:
        # A sandbox whose watchdog is broken must fail the test, not hang the suite.
        return copy, proc.wait(timeout=policy.wall_s + policy.grace_s + 10)
    except subprocess.TimeoutExpired:
        proc._tree.signal(signal.SIGKILL)
        pytest.fail(f"the sandbox did not stop {name} within its caps")


def report(copy: Path) -> dict:
    path = copy / "report.json"
    assert path.exists(), f"{path}: the fixture did not write its report"
    return json.loads(path.read_text())


def is_dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in (b"Z", b"X")


def tree_digest(root: Path) -> dict[str, tuple]:
    """Contents, mode and mtime of everything under root: what tampering could change."""
    digest = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        digest[str(path.relative_to(root))] = (content, st.st_mode, st.st_mtime_ns)
    return digest


def probe_env(**values) -> dict[str, str]:
    """Variables for the probing fixtures; HARNESS_PID names the process they must not reach."""
    return {"HARNESS_PID": str(os.getpid()), **{k: str(v) for k, v in values.items()}}


@pytest.fixture
def host_listener():
    """A TCP listener on 127.0.0.1 in the test's own (host) network namespace."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


# (1) network --------------------------------------------------------------------------------


@needs_netns
def test_network_is_isolated(tmp_path, host_listener):
    copy, result = run_fixture(tmp_path, "network", SandboxPolicy(wall_s=15, env=probe_env(PROBE_PORT=host_listener)))
    assert result.status == "ok", result.message + "\n" + result.tail()
    assert result.network == "isolated"
    seen = report(copy)
    assert seen["interfaces"] == ["lo"]
    assert seen["host_listener"]["connected"] is False, seen
    assert seen["outside"]["connected"] is False, seen
    assert seen["outside"]["errno"] == 101, seen  # ENETUNREACH: there is no route out at all
    assert seen["setns"] != "joined", seen  # no capabilities left to climb back into the host namespace
    assert seen["inner_loopback"]["connected"] is True, seen  # torchrun-style localhost rendezvous works


@needs_netns
def test_network_escape_is_blocked_without_landlock(tmp_path, host_listener, monkeypatch):
    """Without Landlock, dropping every capability is what keeps a root child from setns()-ing back."""
    monkeypatch.setattr(confine, "landlock_abi", lambda: 0)
    policy = SandboxPolicy(wall_s=15, env=probe_env(PROBE_PORT=host_listener, PROBE_OUTSIDE=0))
    copy, result = run_fixture(tmp_path, "network", policy)
    assert result.status == "ok" and result.filesystem == "none", result.message + "\n" + result.tail()
    seen = report(copy)
    assert seen["setns"] != "joined", seen
    assert seen["host_listener"]["connected"] is False, seen


def test_network_allowed_is_a_real_control(tmp_path, host_listener):
    """The same fixture reaches the host listener when the policy allows the network."""
    policy = SandboxPolicy(wall_s=15, allow_network=True, env=probe_env(PROBE_PORT=host_listener, PROBE_OUTSIDE=0))
    copy, result = run_fixture(tmp_path, "network", policy)
    assert result.status == "ok", result.message + "\n" + result.tail()
    assert result.network == "allowed"
    assert report(copy)["host_listener"]["connected"] is True


# (2) secrets outside the folder -------------------------------------------------------------


@pytest.fixture
def secret_file(tmp_path, monkeypatch):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("hunter2")
    monkeypatch.setenv("HARNESS_TEST_SECRET_PATH", str(secret))
    return secret


def test_secret_path_variable_is_scrubbed(tmp_path, secret_file):
    copy, result = run_fixture(tmp_path, "secret", SandboxPolicy(wall_s=15, allow_network=True, env=probe_env()))
    assert result.status == "ok", result.message + "\n" + result.tail()
    seen = report(copy)
    assert seen["scrubbed_var_present"] is False
    assert "read_secret" not in seen  # the child never learned the path


@needs_landlock
def test_secret_read_is_denied_by_landlock(tmp_path, secret_file):
    policy = SandboxPolicy(wall_s=15, allow_network=True, env=probe_env(SECRET_PATH=secret_file))
    copy, result = run_fixture(tmp_path, "secret", policy)
    assert result.status == "ok", result.message + "\n" + result.tail()
    assert result.filesystem == "landlock"
    seen = report(copy)
    assert seen["policy_var"] == str(secret_file)
    assert seen["read_secret"]["ok"] is False and "PermissionError" in seen["read_secret"]["error"], seen
    assert seen["list_parent"]["ok"] is False, seen
    assert seen["block_device"] is None or seen["block_device"]["ok"] is False, seen
    # The harness's own environment (where the tokens are) is out of reach through /proc.
    assert seen["harness_environ"]["ok"] is False, seen
    if landlock_abi() >= 6:  # signal scoping
        assert seen["signal_harness"]["ok"] is False, seen
        assert seen["signal_supervisor"]["ok"] is False, seen


@needs_landlock
def test_secret_read_controls(tmp_path, secret_file, monkeypatch):
    """Granting the folder makes the read work; so does switching Landlock off: the denial is Landlock's."""
    granted = SandboxPolicy(wall_s=15, allow_network=True, env=probe_env(SECRET_PATH=secret_file), readable=(secret_file.parent,))
    copy, result = run_fixture(tmp_path, "secret", granted, run_name="granted")
    assert result.status == "ok", result.tail()
    assert report(copy)["read_secret"] == {"ok": True, "value": "hunter2"}

    monkeypatch.setattr(confine, "landlock_abi", lambda: 0)
    plain = SandboxPolicy(wall_s=15, allow_network=True, env=probe_env(SECRET_PATH=secret_file))
    copy, result = run_fixture(tmp_path, "secret", plain, copy=private_copy(FIXTURES / "secret", tmp_path / "work2"), run_name="plain")
    assert result.filesystem == "none"
    assert report(copy)["read_secret"] == {"ok": True, "value": "hunter2"}


# (3) wallclock ------------------------------------------------------------------------------


@pytest.mark.parametrize("ignore_term", [False, True], ids=["dies-on-sigterm", "ignores-sigterm"])
def test_runaway_is_stopped_with_its_children(tmp_path, ignore_term):
    policy = SandboxPolicy(wall_s=1.5, grace_s=0.5, allow_network=True, env={"IGNORE_TERM": "1" if ignore_term else "0"})
    t0 = time.monotonic()
    copy, result = run_fixture(tmp_path, "forever", policy)
    elapsed = time.monotonic() - t0
    assert result.status == "timeout", result.message
    assert elapsed < policy.wall_s + policy.grace_s + 2.0, result.message
    assert result.seconds >= policy.wall_s
    assert "1.5 s wallclock cap" in result.message
    if ignore_term:
        assert "SIGKILL" in result.message and result.returncode == -9
    pids = json.loads((copy / "pids.json").read_text())
    for role, pid in pids.items():
        assert is_dead(pid), f"{role} process {pid} survived the timeout"
    assert result.leftover_processes_killed >= 1 or ignore_term


def test_daemon_left_behind_is_killed(tmp_path):
    """A double-forked, setsid daemon re-parents to the launcher's supervisor, which kills it."""
    copy, result = run_fixture(tmp_path, "daemon", SandboxPolicy(wall_s=15, allow_network=True))
    daemon = int((copy / "daemon.pid").read_text())
    try:
        assert result.status == "ok", result.message + "\n" + result.tail()
        assert result.leftover_processes_killed >= 1, result.message
        assert is_dead(daemon), f"daemon {daemon} survived the run"
    finally:
        if not is_dead(daemon):
            os.kill(daemon, signal.SIGKILL)


# (4) memory ---------------------------------------------------------------------------------


@pytest.mark.parametrize("split", [False, True], ids=["one-process", "summed-over-children"])
def test_memory_cap(tmp_path, split):
    policy = SandboxPolicy(wall_s=15, mem_bytes=200 * 2**20, allow_network=True, env={"SPLIT": "1" if split else "0"})
    _, result = run_fixture(tmp_path, "memory", policy)
    assert result.status == "memory", result.message + "\n" + result.tail()
    assert result.peak_rss_bytes > policy.mem_bytes
    assert result.seconds < 10
    assert "memory cap" in result.message


# (5) nothing outside the copy is modified -----------------------------------------------------


@pytest.mark.parametrize("filesystem", ["landlock", "none"])
def test_original_folder_and_its_parent_are_untouched(tmp_path, monkeypatch, filesystem):
    """With Landlock, and without it where the launcher can make the host read-only by mounts."""
    if filesystem == "landlock" and landlock_abi() == 0:
        pytest.skip("Landlock is not available in this kernel; the filesystem is not confined by it")
    if filesystem == "none":
        if not mount_namespace_available():
            pytest.skip("no mount namespace here: without Landlock nothing stops writes outside the copy")
        monkeypatch.setattr(confine, "landlock_abi", lambda: 0)
    originals = tmp_path / "originals"
    original = private_copy(FIXTURES / "tamper", originals)  # a throwaway "original", never the repo's
    before_tree, before_parent = tree_digest(original), sorted(os.listdir(originals))
    copy = private_copy(original, tmp_path / "work")
    policy = SandboxPolicy(wall_s=15, allow_network=True, env={"ORIGINAL_DIR": str(original)}, readable=(originals,))
    _, result = run_fixture(tmp_path, "tamper", policy, copy=copy)
    assert result.status == "ok" and result.filesystem == filesystem, result.message + "\n" + result.tail()
    seen = report(copy)
    assert seen["outside"].pop("read_original") == "ok"  # readable is read-only, not invisible
    assert all(outcome != "ok" for outcome in seen["outside"].values()), seen["outside"]
    assert all(outcome == "ok" for outcome in seen["inside"].values()), seen["inside"]
    assert tree_digest(original) == before_tree
    assert sorted(os.listdir(originals)) == before_parent
    assert (copy / "made_here.txt").exists() and not (copy / "data.txt").exists()


# kernel interfaces --------------------------------------------------------------------------


@pytest.mark.parametrize("filesystem", ["landlock", "none"])
def test_kernel_configuration_is_read_only(tmp_path, monkeypatch, filesystem):
    """/proc/sys, /proc/sysrq-trigger and /sys cannot be opened for writing, with or without Landlock;
    a thread can still rename itself through /proc (the CUDA driver does)."""
    if filesystem == "landlock" and landlock_abi() == 0:
        pytest.skip("Landlock is not available in this kernel")
    if filesystem == "none":
        monkeypatch.setattr(confine, "landlock_abi", lambda: 0)
    copy, result = run_fixture(tmp_path, "kernel", SandboxPolicy(wall_s=15, allow_network=True))
    assert result.status == "ok" and result.filesystem == filesystem, result.message + "\n" + result.tail()
    seen = report(copy)
    assert seen["kernel_files"], "no kernel configuration file found to try"
    assert all(outcome != "opened" for outcome in seen["kernel_files"].values()), seen
    assert seen["thread_name"] == "sandboxed-main", seen
    assert seen["ordinary_writes"] == "ok", seen


# (6) environment ----------------------------------------------------------------------------


def test_environment_is_scrubbed(tmp_path, monkeypatch):
    for name in ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "SSH_AUTH_SOCK"):
        monkeypatch.setenv(name, "do-not-leak")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("NCCL_DEBUG", "WARN")
    policy = SandboxPolicy(wall_s=15, allow_network=True, env={"DATA_PATH": "/data/fineweb"})
    copy, result = run_fixture(tmp_path, "envdump", policy)
    assert result.status == "ok", result.message + "\n" + result.tail()
    seen = report(copy)
    env = seen["env"]
    for name in ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "HF_TOKEN", "SSH_AUTH_SOCK"):
        assert name not in env
    assert "do-not-leak" not in json.dumps(env)
    assert env["OMP_NUM_THREADS"] == "3" and env["NCCL_DEBUG"] == "WARN" and env["DATA_PATH"] == "/data/fineweb"
    assert env["HOME"] == str(copy / ".home") and env["TMPDIR"] == str(copy / "tmp")
    assert Path(seen["gettempdir"]) == copy / "tmp"
    assert Path(seen["tempfile"]).parent == copy / "tmp"
    assert Path(seen["cache"]).read_text() == "cache entry"


def test_child_environment_is_exactly_what_the_policy_names(tmp_path):
    parent = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "GITHUB_TOKEN": "x", "NCCL_IB_DISABLE": "1", "HOME": "/root", "XNCCL_": "no"}
    policy = SandboxPolicy(wall_s=1, env={"DATA_PATH": "/d"})
    env = child_environment(policy, tmp_path, parent)
    assert env == {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "NCCL_IB_DISABLE": "1",
        "HOME": str(tmp_path / ".home"),
        "TMPDIR": str(tmp_path / "tmp"),
        "TMP": str(tmp_path / "tmp"),
        "TEMP": str(tmp_path / "tmp"),
        "PWD": str(tmp_path),
        "DATA_PATH": "/d",
    }
    assert child_environment(policy, tmp_path, {})["PATH"]  # a PATH even when the parent has none


# (7) refusal --------------------------------------------------------------------------------


def test_no_isolation_is_refused_unless_network_is_allowed(tmp_path, monkeypatch):
    monkeypatch.setattr(confine, "network_isolation_available", lambda: False)
    copy = copy_fixture("hello", tmp_path)
    with pytest.raises(SandboxRefused, match="--allow-network") as excinfo:
        run_sandboxed([PY, "train_gpt.py"], cwd=copy, policy=SandboxPolicy(wall_s=15), log_dir=tmp_path / "logs", name="run")
    assert excinfo.value.slug == "sandbox"
    assert "network isolation" in str(excinfo.value)
    assert not (tmp_path / "logs").exists() and not (copy / "final_model.txt").exists()  # nothing ran

    result = run_sandboxed([PY, "train_gpt.py"], cwd=copy, policy=SandboxPolicy(wall_s=15, allow_network=True), log_dir=tmp_path / "logs", name="run")
    assert result.status == "ok" and result.network == "allowed"


def test_no_landlock_is_recorded_not_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(confine, "landlock_abi", lambda: 0)
    _, result = run_fixture(tmp_path, "hello", SandboxPolicy(wall_s=15, allow_network=True))
    assert result.status == "ok" and result.filesystem == "none"
    assert "filesystem none" in result.message


# (8) ordinary runs --------------------------------------------------------------------------


def test_ok_run_captures_output(tmp_path):
    copy, result = run_fixture(tmp_path, "hello", SandboxPolicy(wall_s=15, allow_network=True))
    assert result.status == "ok" and result.returncode == 0, result.message
    assert result.stdout_path == (tmp_path / "logs" / "run.stdout").resolve()
    assert "hello from the sandbox" in result.stdout_path.read_text()
    assert result.tail(1, stream="stdout") == "step:1/1 val_bpb:1.2345"
    assert result.tail() == "a warning on stderr"
    assert (copy / "final_model.txt").read_text() == "weights"
    assert result.filesystem == ("landlock" if landlock_abi() else "none")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["status"] == "ok" and data["stdout_path"].endswith("run.stdout") and data["argv"] == [PY, "train_gpt.py"]
    assert "exited 0" in result.message


def test_failing_run_reports_its_traceback(tmp_path):
    _, result = run_fixture(tmp_path, "crash", SandboxPolicy(wall_s=15, allow_network=True))
    assert result.status == "failed" and result.returncode == 1, result.message
    tail = result.tail(5)
    assert "Traceback" in result.stderr_path.read_text()
    assert "RuntimeError: submission blew up in train_step" in tail
    assert "exited with code 1" in result.message


# the process handle -------------------------------------------------------------------------


def test_kill_and_context_manager(tmp_path):
    policy = SandboxPolicy(wall_s=30, grace_s=0.5, allow_network=True)
    copy = copy_fixture("forever", tmp_path)
    with start_sandboxed([PY, "train_gpt.py"], cwd=copy, policy=policy, log_dir=tmp_path / "logs", name="run") as proc:
        assert proc.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.3)
        proc.kill("test asked")
        result = proc.wait(timeout=10)
    assert result.status == "killed" and "test asked" in result.message
    assert proc.poll() == result.returncode

    copy2 = private_copy(FIXTURES / "forever", tmp_path / "work2")
    with start_sandboxed([PY, "train_gpt.py"], cwd=copy2, policy=policy, log_dir=tmp_path / "logs", name="run2") as proc2:
        deadline = time.monotonic() + 10
        while not (copy2 / "pids.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    result2 = proc2.wait(timeout=0)
    assert result2.status == "killed" and "with" in result2.message
    for pid in json.loads((copy2 / "pids.json").read_text()).values():
        assert is_dead(pid)


def test_pass_fds_for_a_request_response_protocol(tmp_path):
    read_fd, write_fd = os.pipe()
    try:
        code = "import os, sys; os.write(int(sys.argv[1]), b'pong'); os.close(int(sys.argv[1]))"
        result = run_sandboxed(
            [PY, "-c", code, str(write_fd)],
            cwd=tmp_path,
            policy=SandboxPolicy(wall_s=15, allow_network=True),
            log_dir=tmp_path / "logs",
            name="pipe",
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        write_fd = -1
        assert result.status == "ok", result.tail()
        assert os.read(read_fd, 16) == b"pong"
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def test_unstartable_command_raises(tmp_path):
    with pytest.raises(SandboxError, match="no-such-program-xyz"):
        run_sandboxed(["no-such-program-xyz"], cwd=tmp_path, policy=SandboxPolicy(wall_s=5, allow_network=True), log_dir=tmp_path / "logs", name="run")


def test_bad_policy_is_named(tmp_path):
    with pytest.raises(SandboxError, match="wall_s"):
        run_sandboxed([PY, "-c", "pass"], cwd=tmp_path, policy=SandboxPolicy(wall_s=0), log_dir=tmp_path, name="run")
    with pytest.raises(SandboxError, match="readable.*does not exist"):
        SandboxPolicy(wall_s=1, readable=(tmp_path / "missing",)).validate()


# the private copy ---------------------------------------------------------------------------


def test_private_copy_keeps_links_inside_and_refuses_links_outside(tmp_path):
    sub = tmp_path / "sub"
    (sub / "pkg").mkdir(parents=True)
    (sub / "train_gpt.py").write_text("print(1)\n")
    (sub / "pkg" / "model.py").write_text("x = 1\n")
    os.symlink(sub / "pkg" / "model.py", sub / "alias.py")  # absolute, but inside
    os.symlink("pkg", sub / "pkg_link")
    copy = private_copy(sub, tmp_path / "work")
    assert copy == tmp_path / "work" / "sub"
    assert (copy / "train_gpt.py").read_text() == "print(1)\n"
    assert os.readlink(copy / "alias.py") == "pkg/model.py"  # now points into the copy
    assert (copy / "pkg_link" / "model.py").read_text() == "x = 1\n"
    with pytest.raises(SandboxError, match="already exists"):
        private_copy(sub, tmp_path / "work")

    (tmp_path / "secret.txt").write_text("s")
    os.symlink(tmp_path / "secret.txt", sub / "leak.txt")
    with pytest.raises(SandboxError, match="leads outside"):
        private_copy(sub, tmp_path / "work3")
    assert not (tmp_path / "work3" / "sub").exists()
