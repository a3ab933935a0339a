"""Confinement: what this system can do (detection), and the launcher that applies it in the child.

Detection runs in the harness process and is cached: ``network_isolation_available()`` (a new,
empty network namespace through util-linux ``unshare``) and ``landlock_abi()`` (0 when Landlock is
missing or disabled).

The launcher is the first program the child runs:

    [unshare -n | unshare -rn] python -m harness.sandbox.confine --spec JSON -- argv...

(``run.py`` starts it as ``python -I -S -c "...confine.main()"`` with the harness's own location on
sys.path, so that nothing in the untrusted working directory or environment can shadow an import.)

It is already inside the new network namespace (unshare does not fork, it execs the launcher), so
it brings the namespace's loopback up (torchrun and NCCL rendezvous on 127.0.0.1) and checks that
no other interface exists. In a private mount namespace it makes the host read-only except the
paths the run may write, and the kernel's configuration (/proc/sys, /sys, ...) read-only
everywhere. It sets resource limits, PR_SET_NO_NEW_PRIVS, the Landlock
filesystem rules, drops every capability, and execs the submission's command. Every step that
fails is reported to the parent through a status pipe and the command is not run: a run is never
started less confined than the parent was told.

Only the standard library is used here, because the launcher runs before anything is confined and
imports as little as possible.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import json
import os
import resource
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# --- Landlock ABI (include/uapi/linux/landlock.h). The syscall numbers are shared by every
# architecture that has Landlock (they were allocated after the syscall tables were unified).
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
LANDLOCK_RULE_PATH_BENEATH = 1

ACCESS_FS_EXECUTE = 1 << 0
ACCESS_FS_WRITE_FILE = 1 << 1
ACCESS_FS_READ_FILE = 1 << 2
ACCESS_FS_READ_DIR = 1 << 3
ACCESS_FS_REMOVE_DIR = 1 << 4
ACCESS_FS_REMOVE_FILE = 1 << 5
ACCESS_FS_MAKE_CHAR = 1 << 6
ACCESS_FS_MAKE_DIR = 1 << 7
ACCESS_FS_MAKE_REG = 1 << 8
ACCESS_FS_MAKE_SOCK = 1 << 9
ACCESS_FS_MAKE_FIFO = 1 << 10
ACCESS_FS_MAKE_BLOCK = 1 << 11
ACCESS_FS_MAKE_SYM = 1 << 12
ACCESS_FS_REFER = 1 << 13  # ABI 2
ACCESS_FS_TRUNCATE = 1 << 14  # ABI 3
# ACCESS_FS_IOCTL_DEV (ABI 5) is deliberately not handled: the CUDA driver talks to /dev/nvidia*
# through ioctls, and device ioctls stay as they were before ABI 5.

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

ACCESS_READ = ACCESS_FS_EXECUTE | ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR
# Rights that make sense on a non-directory; the kernel rejects directory rights on a file rule.
ACCESS_FILE_ONLY = ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE | ACCESS_FS_TRUNCATE

# --- prctl / capabilities
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# --- mount namespace (linux/sched.h, linux/mount.h)
CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
SYS_MOUNT_SETATTR = 442  # Linux 5.12, same number on every architecture
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8

# --- network interface flags (linux/sockios.h, linux/if.h)
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFF_RUNNING = 0x40

# System paths a Python/CUDA process reads from (read + execute). Missing ones are skipped.
SYSTEM_READ_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt", "/sys", "/dev/urandom", "/dev/random")
# /dev may be listed but not read wholesale: a uid-0 child could otherwise read raw disks
# (/dev/sda, /dev/loop*: root-owned, mode 0600/0660), which would bypass every other rule.
SYSTEM_LIST_PATHS = ("/dev",)
# Paths written by ordinary processes: /dev/null & co, and /dev/shm where NCCL and torch
# multiprocessing put their shared-memory segments. /dev/nvidia* are added when present.
#
# /proc is writable because the CUDA driver (and torch) name their threads by writing
# /proc/self/task/<tid>/comm, and CUDA initialisation fails with error 304 when that is denied.
# A rule cannot target "every process's own /proc/<pid>": those inodes belong to one pid, and
# torchrun's workers are other pids. The dangerous writable parts of /proc (/proc/sys,
# /proc/sysrq-trigger, ...) are made read-only by a mount in the launcher's own mount namespace
# (see KERNEL_INTERFACES), and other processes' /proc entries stay out of reach because Landlock
# denies ptrace-mode access to processes outside the sandbox.
SYSTEM_WRITE_PATHS = ("/dev/null", "/dev/zero", "/dev/full", "/dev/shm", "/proc")

# Kernel interfaces a uid-0 process may write on file modes alone (sysctls such as
# kernel.core_pattern, binfmt_misc, sysrq, sysfs attributes, cgroup and tracing files): with no
# capability at all, root could still reconfigure the host through them. The launcher remounts them
# read-only in a private mount namespace (Docker's read-only list, plus all of /sys), before it
# makes /proc itself writable again for the thread names.
KERNEL_INTERFACES = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs", "/sys")

LAUNCHER_FAILED_EXIT = 126
STATUS_REACHED = b"L"  # the launcher started (so `unshare` worked)
STATUS_ERROR = b"E"  # followed by a UTF-8 message; the command was not run


class ConfinementError(Exception):
    """A confinement step failed inside the launcher; the command must not run."""


# ---------------------------------------------------------------------------------------------
# Detection (harness process)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@functools.lru_cache(maxsize=1)
def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is not compiled in or not enabled."""
    try:
        libc = _libc()
        abi = libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_long(0), ctypes.c_long(LANDLOCK_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return abi if abi > 0 else 0


def unshare_binary() -> str | None:
    """util-linux ``unshare``, looked up on PATH and in the usual places (PATH may be minimal)."""
    return shutil.which("unshare") or next((p for p in ("/usr/bin/unshare", "/bin/unshare") if os.access(p, os.X_OK)), None)


@functools.lru_cache(maxsize=1)
def unshare_prefix() -> tuple[str, ...] | None:
    """The command prefix that gives a new network namespace here, or None when none works.

    ``unshare -n`` needs CAP_SYS_ADMIN (root on a normal host); ``unshare -rn`` creates a user
    namespace first, which works unprivileged where user namespaces are allowed. Both are tried for
    real, because containers and sysctls decide this, not the uid.
    """
    binary = unshare_binary()
    if binary is None:
        return None
    probe = [sys.executable, "-I", "-S", "-c", "import socket; print(' '.join(n for _, n in socket.if_nameindex()))"]
    for flags in ("-n", "-rn"):
        try:
            done = subprocess.run([binary, flags, "--", *probe], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            continue
        # A fresh network namespace has exactly one interface, a down loopback.
        if done.returncode == 0 and done.stdout.split() == ["lo"]:
            return (binary, flags)
    return None


@functools.lru_cache(maxsize=1)
def mount_namespace_available() -> bool:
    """Whether a child started directly (no ``unshare`` prefix) can make a private mount namespace.

    True for root. Runs isolated through ``unshare -rn`` get one inside their user namespace even
    when this is False.
    """
    probe = "import ctypes, sys; sys.exit(0 if ctypes.CDLL(None, use_errno=True).unshare(0x00020000) == 0 else 1)"
    try:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", probe], stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def network_isolation_available() -> bool:
    """Whether a child can be started in a new, empty network namespace on this system."""
    return unshare_prefix() is not None


def describe_capabilities() -> dict[str, Any]:
    """What this system offers, for logs and `harness doctor`-style output."""
    prefix = unshare_prefix()
    return {
        "network_isolation": " ".join(prefix) if prefix else None,
        "landlock_abi": landlock_abi(),
        "mount_namespace": mount_namespace_available(),
    }


def system_read_paths() -> list[str]:
    """Paths the child may read and execute besides the working copy and the policy's readable."""
    paths = list(SYSTEM_READ_PATHS)
    paths += [sys.prefix, sys.base_prefix, sys.exec_prefix]
    # The harness's interpreter resolves to a real binary, possibly in another tree (pyenv, conda).
    paths.append(str(Path(os.path.realpath(sys.executable)).parent.parent))
    paths += [entry for entry in sys.path if entry and os.path.isabs(entry) and os.path.exists(entry)]
    # Submissions run by the harness may import its helpers (read-only, never writable).
    paths.append(str(harness_root()))
    return _dedupe(paths)


def system_list_paths() -> list[str]:
    """Directories the child may list but whose files it may not open (beyond the explicit rules)."""
    return list(SYSTEM_LIST_PATHS)


def system_write_paths() -> list[str]:
    paths = list(SYSTEM_WRITE_PATHS)
    try:
        paths += sorted(str(p) for p in Path("/dev").glob("nvidia*"))
    except OSError:
        pass
    return _dedupe(paths)


def harness_root() -> Path:
    """The directory that holds the ``harness`` package (the repository root in a checkout)."""
    import harness

    return Path(harness.__file__).resolve().parent.parent


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


# ---------------------------------------------------------------------------------------------
# The launcher (child process, before exec)


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise ConfinementError(f"{what} failed: {os.strerror(err)} (errno {errno.errorcode.get(err, err)})")
    return result


def bring_loopback_up() -> None:
    """Set IFF_UP on `lo` in this (fresh) network namespace; it starts down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22s", b"lo", 0, b"")
        try:
            flags = struct.unpack("16sH", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request)[:18])[1]
            fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH22s", b"lo", flags | IFF_UP | IFF_RUNNING, b""))
        except OSError as exc:
            raise ConfinementError(f"bringing the sandbox's loopback interface up failed: {exc}") from exc


def verify_network_isolated() -> None:
    """Refuse to go on if this namespace has any interface besides loopback."""
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        raise ConfinementError(f"expected a fresh network namespace with only 'lo', found interfaces {names}")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in the uapi header: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def handled_fs_access(abi: int) -> int:
    handled = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        handled |= ACCESS_FS_REFER
    if abi >= 3:
        handled |= ACCESS_FS_TRUNCATE
    return handled


def apply_landlock(abi: int, read_paths: list[str], write_paths: list[str], list_paths: list[str] = ()) -> None:
    """Restrict this process (and everything it execs or forks) to the given path trees.

    Needs PR_SET_NO_NEW_PRIVS already set. Paths that do not exist are skipped: the list is built
    in the parent from well-known locations, and the policy's own paths were checked there.
    """
    libc = _libc()
    handled = handled_fs_access(abi)
    attr = _RulesetAttr(handled_access_fs=handled, handled_access_net=0, scoped=0)
    size = 8  # handled_access_fs only
    if abi >= 4:
        size = 16
    if abi >= 6:
        # Signals and abstract unix sockets may not cross out of the sandbox: the child (often uid 0)
        # cannot signal the harness or talk to abstract sockets created outside it.
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset_fd = _check(
        libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)),
        "landlock_create_ruleset",
    )
    try:
        for paths, access in ((list_paths, ACCESS_FS_READ_DIR), (read_paths, ACCESS_READ), (write_paths, handled)):
            for path in paths:
                _add_path_rule(libc, ruleset_fd, path, access & handled)
        _check(libc.syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset_fd)


def _add_path_rule(libc: ctypes.CDLL, ruleset_fd: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfinementError(f"opening {path} for a Landlock rule failed: {exc}") from exc
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= ACCESS_FILE_ONLY
        rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
        added = libc.syscall(
            ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset_fd), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0)
        )
        _check(added, f"landlock_add_rule for {path}")
    finally:
        os.close(fd)


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def in_initial_user_namespace() -> bool:
    """True when uids here are the host's uids (no user namespace between us and the host)."""
    try:
        return Path("/proc/self/uid_map").read_text().split() == ["0", "0", "4294967295"]
    except OSError:
        return True


def _is_read_only(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return True  # absent: nothing to protect


def isolate_mounts(write_paths: list[str]) -> bool:
    """Enter a private mount namespace where the host is read-only except ``write_paths``.

    KERNEL_INTERFACES become read-only (recursively), then every other mount, then ``write_paths``
    are bind-mounted writable again. A read-only mount stops what Landlock does not cover (chmod,
    utimes, xattrs on files the child can see) and confines writes even without Landlock; device
    nodes such as /dev/null stay writable on a read-only mount. Needs CAP_SYS_ADMIN here (root, or
    the user namespace of ``unshare -rn``). Without it this returns False, and raises only for
    host uid 0, the one case where file modes alone would let the child write the kernel's
    configuration.
    """
    libc = _libc()
    if libc.unshare(ctypes.c_int(CLONE_NEWNS)) != 0:
        err = ctypes.get_errno()
        exposed = [p for p in KERNEL_INTERFACES if not _is_read_only(p)]
        if os.geteuid() == 0 and in_initial_user_namespace() and exposed:
            raise ConfinementError(
                f"the child would run as root with {', '.join(exposed)} writable, and no mount namespace could be "
                f"created to make them read-only (unshare(CLONE_NEWNS): {os.strerror(err)})"
            )
        return False
    # Private propagation first, so that no mount change below ever reaches the host's namespace.
    _check(libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None), "making / a private mount")
    for path in KERNEL_INTERFACES:
        if os.path.exists(path):
            _bind_to_itself(libc, path)
            _make_read_only_recursively(libc, path)
            if not _is_read_only(path):
                raise ConfinementError(f"{path} is still writable after remounting it read-only")
    if _mount_setattr(libc, "/", set_flags=MOUNT_ATTR_RDONLY, recursive=True) == errno.ENOSYS:
        return True  # kernel before 5.12: the kernel interfaces are protected, the rest relies on Landlock
    for path in write_paths:
        if not os.path.isdir(path):
            continue  # device nodes are writable on a read-only mount; other files need their folder
        _bind_to_itself(libc, path)
        failed = _mount_setattr(libc, path, clear_flags=MOUNT_ATTR_RDONLY, recursive=False)
        if failed or _is_read_only(path):
            raise ConfinementError(f"could not make {path} writable in the sandbox's mount namespace ({os.strerror(failed or errno.EROFS)})")
    # The working directory still points into the mount underneath the new bind; look it up again.
    os.chdir(os.getcwd())
    return True


def _bind_to_itself(libc: ctypes.CDLL, path: str) -> None:
    # MS_REC keeps the mounts below path (required inside a user namespace, and wanted anyway).
    target = path.encode()
    _check(libc.mount(target, target, None, ctypes.c_ulong(MS_BIND | MS_REC), None), f"bind-mounting {path}")


def _mount_setattr(libc: ctypes.CDLL, path: str, *, set_flags: int = 0, clear_flags: int = 0, recursive: bool) -> int:
    """mount_setattr(2) on path; returns 0 or the errno (ENOSYS before Linux 5.12)."""
    attr = _MountAttr(attr_set=set_flags, attr_clr=clear_flags)
    done = libc.syscall(
        ctypes.c_long(SYS_MOUNT_SETATTR),
        ctypes.c_int(AT_FDCWD),
        path.encode(),
        ctypes.c_uint(AT_RECURSIVE if recursive else 0),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    return 0 if done == 0 else ctypes.get_errno()


def _make_read_only_recursively(libc: ctypes.CDLL, path: str) -> None:
    """Read-only on ``path`` and every mount below it (binfmt_misc, cgroup, tracefs, ...)."""
    failed = _mount_setattr(libc, path, set_flags=MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, recursive=True)
    if failed == 0:
        return
    if failed != errno.ENOSYS:
        raise ConfinementError(f"mount_setattr (read-only) on {path} failed: {os.strerror(failed)}")
    # Kernels before 5.12: remount each mount point at or below path, one by one.
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    for mount_point in _mount_points_under(path):
        target = mount_point.encode()
        _check(libc.mount(None, target, None, ctypes.c_ulong(flags), None), f"remounting {mount_point} read-only")


def _mount_points_under(path: str) -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")  # \040 etc. for spaces
        if point == path or point.startswith(path.rstrip("/") + "/"):
            points.append(point)
    return points


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Leave the child with no capability at all, even when it runs as uid 0.

    Without this a root child keeps CAP_SYS_ADMIN and could setns() back into the host's network
    namespace through /proc/<harness pid>/ns/net, or CAP_DAC_OVERRIDE its way around file modes. With
    PR_SET_NO_NEW_PRIVS set, exec never grants more than the permitted set, so emptying it here
    is final. Dropping the bounding set needs CAP_SETPCAP, which a container may lack: best effort.
    """
    libc = _libc()
    try:
        last_cap = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        last_cap = 63
    for cap in range(last_cap + 1):
        libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0)
    header = _CapHeader(version=LINUX_CAPABILITY_VERSION_3, pid=0)
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "capset (dropping all capabilities)")


def set_rlimits(spec_limits: dict[str, Any]) -> None:
    # No core files: a crash must not write the process's memory (and anything it read) to disk.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nofile = spec_limits.get("nofile")
    if nofile is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        soft = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, soft))
    # RLIMIT_AS is deliberately not used: CUDA reserves terabytes of virtual address space. The
    # parent's watchdog enforces memory on resident pages instead.


def enter_namespaces(spec: dict[str, Any]) -> None:
    """Steps for the supervisor and the command alike: network checks, private mounts."""
    if spec.get("network") == "isolated":
        bring_loopback_up()
        verify_network_isolated()
    if spec.get("isolate_mounts", True):
        isolate_mounts(list((spec.get("paths") or {}).get("write", ())))


def confine_self(spec: dict[str, Any]) -> None:
    """Steps for the command only: limits, no new privileges, Landlock, no capabilities."""
    set_rlimits(spec.get("rlimits") or {})
    libc = _libc()
    # Required by landlock_restrict_self without CAP_SYS_ADMIN, and makes the capability drop final.
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl(PR_SET_NO_NEW_PRIVS)")
    paths = spec.get("paths") or {}
    abi = int(spec.get("landlock_abi") or 0)
    if abi > 0:
        apply_landlock(abi, list(paths.get("read", ())), list(paths.get("write", ())), list(paths.get("list", ())))
    if spec.get("drop_capabilities", True):
        drop_capabilities()


# Signals the supervisor ignores: it must outlive the command's tree to reap and clean up after it.
# The harness stops the tree by signalling its members; it SIGKILLs the supervisor only as a last resort.
SUPERVISOR_IGNORES = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
# Python ignores these at startup; an exec'd command must get the default back.
PYTHON_IGNORES = (signal.SIGPIPE, signal.SIGXFSZ)
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def supervise(spec: dict[str, Any], argv: list[str], status_fd: int, report_fd: int | None) -> int:
    """Fork the command and stay as its parent until it exits, then kill whatever it left behind.

    The supervisor is a child subreaper: every process the command orphans (double fork, setsid,
    daemonising) is re-parented to it rather than to init, so none can leave the tree the harness
    watches. It is not confined by Landlock itself, so with Landlock ABI >= 6 nothing in the
    command's tree can signal it. When the command exits, the supervisor SIGKILLs the remaining
    descendants, reports the command's wait status and the count on ``report_fd``, and exits with
    the command's exit status.
    """
    libc = _libc()
    _check(libc.prctl(PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl(PR_SET_CHILD_SUBREAPER)")
    for sig in SUPERVISOR_IGNORES:
        signal.signal(sig, signal.SIG_IGN)
    command_pid = os.fork()
    if command_pid == 0:
        _run_command(spec, argv, status_fd, report_fd)  # never returns
    os.close(status_fd)  # the command's copy closes at exec: that end-of-file is the parent's signal
    command_status = _wait_for(command_pid)
    leftovers = kill_descendants(os.getpid())
    if report_fd is not None:
        os.write(report_fd, json.dumps({"wait_status": command_status, "leftovers_killed": leftovers}).encode())
        os.close(report_fd)
    if os.WIFSIGNALED(command_status):
        return 128 + os.WTERMSIG(command_status)
    return os.waitstatus_to_exitcode(command_status)


def _run_command(spec: dict[str, Any], argv: list[str], status_fd: int, report_fd: int | None) -> None:
    try:
        if report_fd is not None:
            os.close(report_fd)
        for sig in (*SUPERVISOR_IGNORES, *PYTHON_IGNORES):
            signal.signal(sig, signal.SIG_DFL)
        # If the supervisor dies (killed by the harness), the command dies with it.
        _libc().prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
        confine_self(spec)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            raise ConfinementError(f"cannot execute {argv[0]!r}: {exc.strerror or exc}") from exc
    except BaseException as exc:  # in the forked child: report, never return into the supervisor's code
        _report_failure(status_fd, exc)
    finally:
        os._exit(LAUNCHER_FAILED_EXIT)


def _wait_for(pid: int) -> int:
    """Reap children (orphans included) until ``pid`` exits; returns its raw wait status."""
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0  # not reached: pid is our child until we reap it
        except InterruptedError:
            continue
        if reaped == pid:
            return status


def proc_stat_fields() -> dict[int, list[bytes]]:
    """pid -> the fields of /proc/<pid>/stat after ``comm`` (state, ppid, pgrp, session, ...), for
    every process readable now; the launcher's reaper and the harness's watchdog both read this."""
    table: dict[int, list[bytes]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue  # exited between listdir and open
        # comm (field 2) may contain spaces and parentheses; everything after the last ')' is fixed.
        table[int(name)] = raw[raw.rfind(b")") + 2 :].split()
    return table


def _children_table() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid, fields in proc_stat_fields().items():
        if len(fields) > 1 and fields[0] not in (b"Z", b"X"):
            children.setdefault(int(fields[1]), []).append(pid)
    return children


def kill_descendants(root: int, give_up_s: float = 5.0) -> int:
    """SIGKILL every live descendant of ``root`` and reap them; returns how many were killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + give_up_s
    while time.monotonic() < deadline:
        table = _children_table()
        stack, found = list(table.get(root, ())), []
        while stack:
            pid = stack.pop()
            found.append(pid)
            stack.extend(table.get(pid, ()))
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        while True:  # reap what has died (orphans land here as our children)
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        if not found:
            break
        time.sleep(0.01)
    return len(killed)


def _report_failure(status_fd: int | None, exc: BaseException) -> None:
    message = f"sandbox launcher: {exc}"
    if status_fd is not None:
        try:
            os.write(status_fd, STATUS_ERROR + message.encode("utf-8", "replace"))
        except OSError:
            pass
    print(message, file=sys.stderr, flush=True)


def main(args: list[str] | None = None) -> int:
    """``--spec JSON -- argv...``: confine, then run argv under a supervisor; returns its exit status."""
    args = sys.argv[1:] if args is None else list(args)
    if len(args) < 4 or args[0] != "--spec" or args[2] != "--":
        print("usage: python -m harness.sandbox.confine --spec JSON -- PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    try:
        spec = json.loads(args[1])
    except json.JSONDecodeError as exc:
        print(f"harness.sandbox.confine: --spec is not JSON: {exc}", file=sys.stderr)
        return 2
    argv = args[3:]
    status_fd = spec.get("status_fd")
    report_fd = spec.get("report_fd")
    if status_fd is None:
        print("harness.sandbox.confine: the spec has no status_fd", file=sys.stderr)
        return 2
    for fd in (status_fd, report_fd):
        if fd is not None:
            os.set_inheritable(fd, False)  # neither may reach the command past exec
    os.write(status_fd, STATUS_REACHED)
    try:
        enter_namespaces(spec)
    except (ConfinementError, OSError) as exc:
        _report_failure(status_fd, exc)
        return LAUNCHER_FAILED_EXIT
    return supervise(spec, argv, status_fd, report_fd)


if __name__ == "__main__":
    sys.exit(main())
