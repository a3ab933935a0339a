"""Start untrusted submission code in a confined child process, watch it, and report what happened.

``private_copy`` makes the folder the child works in. ``start_sandboxed`` starts the command through
the launcher in ``confine.py`` (new network namespace, read-only host mounts, Landlock, no
capabilities, scrubbed environment, a supervisor that keeps orphans in the tree) in a new session,
with stdout/stderr going to files, and starts a watchdog thread that enforces the wallclock and
memory caps on the whole process tree. ``run_sandboxed`` is start plus wait.

The processes: the harness -> [unshare ->] the launcher, which stays as the supervisor (the root
of the tree, ``SandboxProcess.pid``) -> the command and everything it starts.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

from harness.atomic import atomic_directory
from harness.sandbox import confine
from harness.sandbox.policy import HOME_DIRNAME, TMP_DIRNAME, SandboxError, SandboxPolicy, SandboxRefused, child_environment

POLL_S = 0.2
# How long the launcher may take to confine itself and exec. Generous: a loaded CI machine can take
# seconds to start Python; a launcher that never reports is killed and the run refused.
LAUNCH_TIMEOUT_S = 60.0
# After the main process exits, how long to wait for SIGKILLed leftovers to disappear.
LEFTOVER_WAIT_S = 2.0
# After the tree is SIGKILLed, how long the supervisor may take to reap it and exit on its own.
SUPERVISOR_EXIT_S = 5.0
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

STATUSES = ("ok", "failed", "timeout", "memory", "killed")


# ---------------------------------------------------------------------------------------------
# The private working copy


def private_copy(src: Path, dest_root: Path) -> Path:
    """Copy the folder ``src`` to ``dest_root/<src.name>`` and return the copy.

    Symlinks are never followed: one that resolves inside ``src`` is recreated as a relative link
    inside the copy; one that leads outside raises SandboxError (following it would copy, and later
    expose, whatever it points at). Fifos, sockets and devices raise too.
    """
    src = Path(src).resolve()
    if not src.is_dir():
        raise SandboxError("not a directory; a submission to copy must be a folder", path=src)
    dest = Path(dest_root) / src.name
    if dest.exists() or dest.is_symlink():
        raise SandboxError("already exists; a private copy must be made fresh for every run", path=dest)
    with atomic_directory(dest) as tmp:
        _copy_tree(src, tmp, src)
    return dest


def _copy_tree(folder: Path, out: Path, root: Path) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            target = out / entry.name
            if entry.is_symlink():
                resolved = os.path.realpath(entry.path)
                if os.path.commonpath([resolved, str(root)]) != str(root):
                    raise SandboxError(
                        f"symlink to {os.readlink(entry.path)!r} leads outside the submission folder {root}; refusing to copy it",
                        path=entry.path,
                    )
                os.symlink(os.path.relpath(resolved, start=folder), target)
            elif entry.is_dir(follow_symlinks=False):
                target.mkdir()
                _copy_tree(Path(entry.path), target, root)
            elif entry.is_file(follow_symlinks=False):
                shutil.copy2(entry.path, target, follow_symlinks=False)
            else:
                raise SandboxError("not a regular file, folder or symlink (fifo, socket or device); refusing to copy it", path=entry.path)


# ---------------------------------------------------------------------------------------------
# The result


@dataclass
class SandboxResult:
    """What one sandboxed run did. ``status``: ok | failed | timeout | memory | killed."""

    name: str
    argv: list[str]
    returncode: int | None
    status: str
    seconds: float
    peak_rss_bytes: int
    stdout_path: Path
    stderr_path: Path
    network: str  # "isolated" | "allowed"
    filesystem: str  # "landlock" | "none"
    message: str
    cwd: Path | None = None
    leftover_processes_killed: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def tail(self, n_lines: int = 20, stream: str = "stderr") -> str:
        """The last ``n_lines`` lines of the captured stderr (or ``stream="stdout"``)."""
        if stream not in ("stderr", "stdout"):
            raise ValueError(f"stream must be 'stderr' or 'stdout', got {stream!r}")
        return tail_file(self.stderr_path if stream == "stderr" else self.stdout_path, n_lines)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("stdout_path", "stderr_path", "cwd"):
            if data[key] is not None:
                data[key] = str(data[key])
        return data


def tail_file(path: Path, n_lines: int) -> str:
    """The last ``n_lines`` lines of a log file, reading at most its last 256 KiB."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read()
    except FileNotFoundError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-n_lines:]) if n_lines > 0 else ""


# ---------------------------------------------------------------------------------------------
# The process tree, read from /proc


@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    start: int  # clock ticks since boot: tells a process from a later one that reuses its pid
    rss_pages: int
    state: str


def _read_proc_table() -> dict[int, _Proc]:
    table: dict[int, _Proc] = {}
    for pid, fields in confine.proc_stat_fields().items():
        try:
            table[pid] = _Proc(
                pid=pid,
                ppid=int(fields[1]),
                pgid=int(fields[2]),
                sid=int(fields[3]),
                start=int(fields[19]),
                rss_pages=int(fields[21]),
                state=fields[0].decode("ascii", "replace"),
            )
        except (IndexError, ValueError):
            continue
    return table


class _ProcessTree:
    """Every process of one run: its session and process group, plus anything descended from them.

    A process that calls setsid() leaves the session and the group; it is still found through its
    parent (orphans are re-parented to the supervisor, the root), and remembered (pid + start time)
    from then on in case the supervisor itself is gone.
    """

    def __init__(self, root_pid: int):
        self.root_pid = root_pid
        self.known: dict[int, int] = {}

    def members(self) -> dict[int, _Proc]:
        table = _read_proc_table()
        found = {p.pid: p for p in table.values() if p.pgid == self.root_pid or p.sid == self.root_pid}
        for pid, start in self.known.items():
            proc = table.get(pid)
            if proc is not None and proc.start == start:
                found[pid] = proc
        children: dict[int, list[_Proc]] = {}
        for proc in table.values():
            children.setdefault(proc.ppid, []).append(proc)
        stack = list(found)
        while stack:
            for child in children.get(stack.pop(), ()):
                if child.pid not in found:
                    found[child.pid] = child
                    stack.append(child.pid)
        self.known = {pid: proc.start for pid, proc in found.items()}
        return found

    def signal(self, sig: int, *, spare_root: bool = False) -> dict[int, _Proc]:
        """Send ``sig`` to every member (the root too unless ``spare_root``); returns the members."""
        members = self.members()
        # The group at once, but only while a member still holds the group id (the kernel does not
        # reuse a pid in use as a process group id, so the group cannot be someone else's).
        use_group = not spare_root and any(p.pgid == self.root_pid for p in members.values())
        if use_group:
            try:
                os.killpg(self.root_pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for proc in members.values():
            if (use_group and proc.pgid == self.root_pid) or (spare_root and proc.pid == self.root_pid):
                continue
            try:
                os.kill(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        return members


def _alive(members: dict[int, _Proc], *, besides: int | None = None) -> list[_Proc]:
    return [p for p in members.values() if p.state not in ("Z", "X") and p.pid != besides]


# ---------------------------------------------------------------------------------------------
# The running process and its watchdog

_LIVE: "weakref.WeakSet[SandboxProcess]" = weakref.WeakSet()


@atexit.register
def _kill_live_sandboxes() -> None:
    # The watchdog is a daemon thread; if the harness exits while a run is going, take it down too.
    for proc in list(_LIVE):
        proc._tree.signal(signal.SIGKILL)


class SandboxProcess:
    """A running sandboxed command. Use as a context manager: leaving the block kills the run."""

    def __init__(
        self,
        *,
        popen: subprocess.Popen,
        argv: list[str],
        name: str,
        cwd: Path,
        policy: SandboxPolicy,
        stdout_path: Path,
        stderr_path: Path,
        network: str,
        filesystem: str,
        started: float,
        report_fd: int,
    ):
        self._popen = popen
        self._report_fd = report_fd
        self.pid = popen.pid
        self.argv = argv
        self.name = name
        self.cwd = cwd
        self.policy = policy
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        self.network = network
        self.filesystem = filesystem
        self._started = started
        self._tree = _ProcessTree(popen.pid)
        self._lock = threading.Lock()
        self._kill_reason: str | None = None
        self._done = threading.Event()
        self._result: SandboxResult | None = None
        self._thread = threading.Thread(target=self._watch, name=f"sandbox-watchdog-{name}", daemon=True)
        _LIVE.add(self)
        self._thread.start()

    # public API ------------------------------------------------------------------------------

    def poll(self) -> int | None:
        """The exit code once the run is over (leftovers killed, result ready), else None."""
        return self._result.returncode if self._done.is_set() and self._result else None

    def wait(self, timeout: float | None = None) -> SandboxResult:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.argv, timeout)
        assert self._result is not None
        return self._result

    def kill(self, reason: str) -> None:
        """Stop the run (SIGTERM, SIGKILL after the grace period); its status becomes "killed"."""
        with self._lock:
            if self._kill_reason is None:
                self._kill_reason = reason

    def __enter__(self) -> "SandboxProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done.is_set():
            self.kill("the caller left the `with` block while the run was still going")
        self.wait()

    # watchdog --------------------------------------------------------------------------------

    def _watch(self) -> None:
        """Poll the tree every POLL_S: wallclock, memory, kill requests; then build the result.

        The root process is the launcher's supervisor (see confine.supervise). The tree is stopped
        with SIGTERM to every member, then SIGKILL to every member but the supervisor, which then
        reaps and cleans up and exits on its own; it is SIGKILLed too if it has not within
        SUPERVISOR_EXIT_S.
        """
        policy = self.policy
        deadline = self._started + policy.wall_s
        status: str | None = None
        detail = ""
        term_sent_at: float | None = None
        hard_kill_at: float | None = None
        peak_rss = 0
        waiter = _ExitWaiter(self.pid)
        try:
            while True:
                exit_info = waiter.wait(POLL_S)
                now = time.monotonic()
                members = self._tree.members()
                rss = sum(p.rss_pages for p in members.values()) * PAGE_SIZE
                peak_rss = max(peak_rss, rss)
                if exit_info is not None:
                    break
                with self._lock:
                    reason = self._kill_reason
                if status is None and reason is not None:
                    status, detail = "killed", f"was killed by the harness: {reason}"
                    self._tree.signal(signal.SIGTERM)
                    term_sent_at = now
                if status is None and policy.mem_bytes is not None and rss > policy.mem_bytes:
                    # Memory is killed at once: a grace period would let it keep growing.
                    status = "memory"
                    detail = (
                        f"was killed at {_mib(rss)} resident (summed over {len(members)} processes), "
                        f"over the {_mib(policy.mem_bytes)} memory cap"
                    )
                    hard_kill_at = now
                if status is None and now >= deadline:
                    status = "timeout"
                    detail = f"was stopped at the {policy.wall_s:g} s wallclock cap"
                    self._tree.signal(signal.SIGTERM)
                    term_sent_at = now
                if hard_kill_at is None and term_sent_at is not None and now - term_sent_at >= policy.grace_s:
                    hard_kill_at = now
                    detail += f" (SIGTERM ignored for the {policy.grace_s:g} s grace period, then SIGKILL)"
                if hard_kill_at is not None:
                    # Again every tick: a process forked between two scans is caught by the next one.
                    self._tree.signal(signal.SIGKILL, spare_root=now - hard_kill_at < SUPERVISOR_EXIT_S)
            supervisor_code, maxrss_bytes = exit_info
            seconds = time.monotonic() - self._started
            report = self._read_report()
            leftovers = report.get("leftovers_killed", 0) + self._kill_leftovers()
            peak_rss = max(peak_rss, maxrss_bytes)
            self._popen.returncode = supervisor_code  # reaped here with wait4; keeps Popen from reaping again
            returncode = os.waitstatus_to_exitcode(report["wait_status"]) if "wait_status" in report else supervisor_code
            if status is None:
                status = "ok" if returncode == 0 else "failed"
                detail = "exited 0" if returncode == 0 else _describe_exit(returncode)
            elif status == "timeout" and hard_kill_at is None:
                detail += " (exited on SIGTERM)"
            self._result = SandboxResult(
                name=self.name,
                argv=list(self.argv),
                returncode=returncode,
                status=status,
                seconds=round(seconds, 3),
                peak_rss_bytes=peak_rss,
                stdout_path=self.stdout_path,
                stderr_path=self.stderr_path,
                network=self.network,
                filesystem=self.filesystem,
                message=self._message(detail, seconds, peak_rss, leftovers),
                cwd=self.cwd,
                leftover_processes_killed=leftovers,
            )
        except BaseException as exc:  # never leave a waiter hanging, never leave the tree running
            self._tree.signal(signal.SIGKILL)
            self._result = SandboxResult(
                name=self.name,
                argv=list(self.argv),
                returncode=None,
                status="killed",
                seconds=round(time.monotonic() - self._started, 3),
                peak_rss_bytes=peak_rss,
                stdout_path=self.stdout_path,
                stderr_path=self.stderr_path,
                network=self.network,
                filesystem=self.filesystem,
                message=f"{self.name}: the sandbox watchdog failed ({type(exc).__name__}: {exc}); the run was killed",
                cwd=self.cwd,
            )
        finally:
            waiter.close()
            os.close(self._report_fd)
            _LIVE.discard(self)
            self._done.set()

    def _read_report(self) -> dict[str, Any]:
        """The supervisor's last words: the command's wait status and the leftovers it killed."""
        data = b""
        while True:
            ready, _, _ = select.select([self._report_fd], [], [], 0)
            if not ready:
                break
            chunk = os.read(self._report_fd, 65536)
            if not chunk:
                break
            data += chunk
        try:
            report = json.loads(data) if data else {}
        except json.JSONDecodeError:
            return {}
        return report if isinstance(report, dict) else {}

    def _kill_leftovers(self) -> int:
        """After the main process exits, SIGKILL whatever it left running (daemons, orphans)."""
        leftovers = _alive(self._tree.members(), besides=self.pid)
        if not leftovers:
            return 0
        give_up = time.monotonic() + LEFTOVER_WAIT_S
        while _alive(self._tree.signal(signal.SIGKILL), besides=self.pid) and time.monotonic() < give_up:
            time.sleep(0.02)
        return len(leftovers)

    def _message(self, detail: str, seconds: float, peak_rss: int, leftovers: int) -> str:
        command = shlex.join(self.argv)
        if len(command) > 120:
            command = command[:117] + "..."
        limits = f"caps {self.policy.wall_s:g} s" + (f", {_mib(self.policy.mem_bytes)}" if self.policy.mem_bytes else "")
        text = (
            f"{self.name}: `{command}` ran {seconds:.1f} s and {detail} "
            f"({limits}; peak {_mib(peak_rss)}; network {self.network}, filesystem {self.filesystem})"
        )
        if leftovers:
            text += f"; {leftovers} leftover process(es) killed"
        return text


class _ExitWaiter:
    """Waits for the main process to exit and reaps it with wait4, which also gives its peak RSS."""

    def __init__(self, pid: int):
        self.pid = pid
        self.pidfd: int | None = None
        try:
            self.pidfd = os.pidfd_open(pid)  # wakes the watchdog the moment the process exits
        except (AttributeError, OSError):
            self.pidfd = None

    def wait(self, timeout: float) -> tuple[int, int] | None:
        if self.pidfd is not None:
            select.select([self.pidfd], [], [], timeout)
        pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            if self.pidfd is None:
                time.sleep(timeout)
            return None
        return os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _mib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**20:.0f} MiB"


# ---------------------------------------------------------------------------------------------
# Starting


def _validate_name(name: str) -> None:
    if not name or "/" in name or "\0" in name or name.startswith("."):
        raise SandboxError(f"run name {name!r} must be a plain file-name stem (no '/', not starting with '.')")


def _refusal_message() -> str:
    if confine.unshare_binary() is None:
        missing = "the `unshare` program (util-linux) is not installed"
    else:
        missing = (
            "`unshare -n` and `unshare -rn` both failed to create a network namespace "
            "(needs root/CAP_SYS_ADMIN, or unprivileged user namespaces)"
        )
    return (
        f"no network isolation on this system: {missing}. Refusing to run untrusted submission code with network access; "
        "pass --allow-network (SandboxPolicy.allow_network=True) to run it without isolation"
    )


def _launcher_command(spec: dict[str, Any]) -> list[str]:
    # -I: the launcher ignores PYTHON* variables and does not put the (untrusted) working directory
    # on sys.path, so nothing in the copy can shadow what it imports before confinement. -S: no
    # site-packages; the harness is imported from its own location.
    boot = (
        f"import sys; sys.path.insert(0, {str(confine.harness_root())!r}); "
        "from harness.sandbox.confine import main; sys.exit(main(sys.argv[1:]))"
    )
    return [sys.executable, "-I", "-S", "-c", boot, "--spec", json.dumps(spec), "--"]


def _await_launcher(read_fd: int, popen: subprocess.Popen, stderr_path: Path) -> None:
    """Block until the launcher execs the command (EOF after 'L') or reports why it could not."""
    data = b""
    give_up = time.monotonic() + LAUNCH_TIMEOUT_S
    while True:
        remaining = give_up - time.monotonic()
        if remaining <= 0:
            raise SandboxError(f"the sandbox launcher did not start the command within {LAUNCH_TIMEOUT_S:g} s")
        ready, _, _ = select.select([read_fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(read_fd, 4096)
        if not chunk:
            break
        data += chunk
    if data.startswith(confine.STATUS_REACHED + confine.STATUS_ERROR):
        raise SandboxError(data[2:].decode("utf-8", "replace"))
    if data != confine.STATUS_REACHED:
        popen.wait()
        raise SandboxError(
            f"the sandbox launcher never ran (exit code {popen.returncode}); its stderr ends with: {tail_file(stderr_path, 5)!r}",
            path=stderr_path,
        )


def start_sandboxed(
    argv: Sequence[str],
    *,
    cwd: Path,
    policy: SandboxPolicy,
    log_dir: Path,
    name: str,
    pass_fds: Iterable[int] = (),
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
) -> SandboxProcess:
    """Start ``argv`` confined by ``policy`` in ``cwd`` (a private copy); returns once it runs.

    Raises SandboxRefused when the policy asks for network isolation the system cannot give, and
    SandboxError when the launcher could not confine itself or exec ``argv[0]`` (nothing ran).
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise SandboxError("empty command: nothing to run")
    policy.validate()
    _validate_name(name)
    cwd = Path(cwd).resolve()
    if not cwd.is_dir():
        raise SandboxError("working directory does not exist or is not a folder", path=cwd)

    if policy.allow_network:
        prefix: tuple[str, ...] = ()
        network = "allowed"
    else:
        prefix_or_none = confine.unshare_prefix() if confine.network_isolation_available() else None
        if prefix_or_none is None:
            raise SandboxRefused(_refusal_message())
        prefix = prefix_or_none
        network = "isolated"

    abi = confine.landlock_abi()
    filesystem = "landlock" if abi > 0 else "none"
    # The same paths drive the Landlock rules and the read-only host mounts in the launcher.
    paths = {
        "read": confine.system_read_paths() + [str(Path(p).resolve()) for p in policy.readable],
        "write": [str(cwd)] + confine.system_write_paths() + [str(Path(p).resolve()) for p in policy.writable],
        "list": confine.system_list_paths(),
    }

    (cwd / HOME_DIRNAME).mkdir(exist_ok=True)
    (cwd / TMP_DIRNAME).mkdir(exist_ok=True)
    env = child_environment(policy, cwd)
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_dir = log_dir.resolve()
    stdout_path = log_dir / f"{name}.stdout"
    stderr_path = log_dir / f"{name}.stderr"

    read_fd, write_fd = os.pipe()
    report_read_fd, report_write_fd = os.pipe()
    spec = {
        "status_fd": write_fd,
        "report_fd": report_write_fd,
        "network": network,
        "paths": paths,
        "landlock_abi": abi,
        "isolate_mounts": True,
        "rlimits": {"nofile": policy.nofile},
        "drop_capabilities": True,
    }
    command = [*prefix, *_launcher_command(spec), *argv]
    launched = False
    try:
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            started = time.monotonic()
            popen = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=stdin,
                stdout=out,
                stderr=err,
                pass_fds=(write_fd, report_write_fd, *pass_fds),
                close_fds=True,
                start_new_session=True,
            )
        os.close(write_fd)
        os.close(report_write_fd)
        write_fd = report_write_fd = -1
        try:
            _await_launcher(read_fd, popen, stderr_path)
        except BaseException:
            _ProcessTree(popen.pid).signal(signal.SIGKILL)
            popen.wait()
            raise
        launched = True
    finally:
        # The report pipe's read end lives on in the SandboxProcess once the command runs.
        for fd in (write_fd, report_write_fd, read_fd, -1 if launched else report_read_fd):
            if fd >= 0:
                os.close(fd)
    return SandboxProcess(
        popen=popen,
        argv=argv,
        name=name,
        cwd=cwd,
        policy=policy,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        network=network,
        filesystem=filesystem,
        started=started,
        report_fd=report_read_fd,
    )


def run_sandboxed(
    argv: Sequence[str],
    *,
    cwd: Path,
    policy: SandboxPolicy,
    log_dir: Path,
    name: str,
    pass_fds: Iterable[int] = (),
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
) -> SandboxResult:
    """Start ``argv`` in the sandbox and wait for it; see ``start_sandboxed``."""
    with start_sandboxed(argv, cwd=cwd, policy=policy, log_dir=log_dir, name=name, pass_fds=pass_fds, stdin=stdin) as proc:
        return proc.wait()
