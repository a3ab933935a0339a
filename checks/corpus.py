"""Corpus mode: lint the records scripts that a clone's refs add (``lint-ttt --git-repo CLONE``).

For every ref matching the pattern (default ``refs/pull/*/head``) the records tree is listed with
``git ls-tree``; a ``records/**/train_gpt*.py`` whose blob differs from the base branch's is a
script that ref adds. Scripts are deduplicated by the blobs that decide their verdict (the script,
its folder's README, logs and sibling Python files), written to a scratch folder read through one
``git cat-file --batch`` process, and linted in a process pool with a per-file time limit. The
summary table counts verdicts and rule hits; ``--format json`` prints one row per ref and script.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

CONTEXT_SUFFIXES = (".md", ".log", ".txt", ".json", ".py", ".sh")
MAX_CONTEXT_BLOB = 4 << 20  # logs larger than this are skipped (the run command is near the top)


@dataclass
class CorpusScript:
    ref: str
    path: str  # path inside the ref's tree
    blob: str
    context: dict = field(default_factory=dict)  # path -> blob for the folder's README, logs, sibling code

    @property
    def job_key(self) -> str:
        h = hashlib.sha1(self.blob.encode())
        for p, b in sorted(self.context.items()):
            h.update(f"{PurePosixPath(p).name}:{b}".encode())
        return h.hexdigest()


def _git(clone: str, *args: str) -> str:
    from harness.errors import MissingDataError

    try:
        return subprocess.run(["git", "-C", clone, *args], check=True, capture_output=True, text=True).stdout
    except FileNotFoundError as exc:
        raise MissingDataError("git is not installed", path=clone) from exc
    except subprocess.CalledProcessError as exc:
        raise MissingDataError(f"git {' '.join(args[:2])} failed: {exc.stderr.strip()[:300]}", path=clone) from exc


def _base_ref(clone: str) -> str | None:
    for ref in ("refs/heads/main", "refs/remotes/origin/main", "HEAD"):
        if subprocess.run(["git", "-C", clone, "rev-parse", "--verify", "-q", ref], capture_output=True).returncode == 0:
            return ref
    return None


def _records_listing(clone: str, ref: str) -> list[tuple[str, str, int]]:
    """(path, blob, size) of every file under records/ at ``ref``."""
    out = []
    for line in _git(clone, "ls-tree", "-r", "-l", ref, "--", "records/").splitlines():
        meta, _, path = line.partition("\t")
        parts = meta.split()
        if len(parts) >= 4 and parts[1] == "blob":
            out.append((path, parts[2], int(parts[3]) if parts[3].isdigit() else 0))
    return out


def is_entry_script(path: str) -> bool:
    return fnmatch.fnmatch(PurePosixPath(path).name, "train_gpt*.py")


def collect_scripts(clone: str, pattern: str = "refs/pull/*/head", limit: int | None = None) -> tuple[list[CorpusScript], int]:
    """Scripts the matching refs add or change relative to the base branch; and how many refs matched."""
    refs = _git(clone, "for-each-ref", "--format=%(refname)", pattern).split()
    refs.sort(key=lambda r: (len(r), r))
    if limit is not None:
        refs = refs[:limit]
    base = _base_ref(clone)
    base_blobs = {(p, b) for p, b, _ in _records_listing(clone, base)} if base and base not in refs else set()
    scripts = []
    for ref in refs:
        listing = _records_listing(clone, ref)
        by_folder: dict[str, list[tuple[str, str, int]]] = {}
        for p, b, size in listing:
            by_folder.setdefault(str(PurePosixPath(p).parent), []).append((p, b, size))
        for p, b, _ in listing:
            if not is_entry_script(p) or (p, b) in base_blobs:
                continue
            context = {cp: cb for cp, cb, size in by_folder[str(PurePosixPath(p).parent)]
                       if cp != p and cp.endswith(CONTEXT_SUFFIXES) and size <= MAX_CONTEXT_BLOB}
            scripts.append(CorpusScript(ref, p, b, context))
    return scripts, len(refs)


class BlobReader:
    """Blob contents through one long-lived ``git cat-file --batch``."""

    def __init__(self, clone: str):
        self.proc = subprocess.Popen(["git", "-C", clone, "cat-file", "--batch"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def read(self, blob: str) -> bytes:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(blob.encode() + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            return b""
        data = self.proc.stdout.read(int(header[2]))
        self.proc.stdout.read(1)
        return data

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


TASKS_PER_WORKER = 50


def _materialize(reader: BlobReader, script: CorpusScript, root: Path) -> Path:
    folder = root / script.job_key[:16]
    folder.mkdir(parents=True, exist_ok=True)
    for p, b in script.context.items():
        (folder / PurePosixPath(p).name).write_bytes(reader.read(b))
    target = folder / PurePosixPath(script.path).name
    target.write_bytes(reader.read(script.blob))
    return target


def _lint_one(job: tuple) -> dict:
    """Worker: lint one materialized script under a wall-clock alarm; never raises."""
    import signal

    key, path, shown, select, ignore, timeout_s = job
    from checks.api import folder_context_for, lint_file
    from checks.output.jsonfmt import finding_json

    def on_alarm(signum, frame):
        raise TimeoutError(f"analysis took longer than {timeout_s:.0f} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(max(1, int(timeout_s)))
    started = time.perf_counter()
    try:
        r = lint_file(path, shown, folder_context_for(Path(path), select, ignore, shown=shown))
        row = {"verdict": r.verdict, "reason": r.reason, "findings": [finding_json(f) for f in r.findings]}
    except BaseException as exc:  # RecursionError, TimeoutError, anything: the corpus run goes on
        row = {"verdict": "unparsable", "reason": f"{type(exc).__name__}: {exc}"[:300], "findings": [], "crash": True}
    finally:
        signal.alarm(0)
    row["seconds"] = round(time.perf_counter() - started, 3)
    return key, row


def lint_corpus(clone: str, pattern: str = "refs/pull/*/head", *, jobs: int = 1, limit: int | None = None,
                select=None, ignore=None, timeout_s: float = 120.0, progress: bool = False) -> dict:
    import concurrent.futures as cf

    t0 = time.perf_counter()
    scripts, n_refs = collect_scripts(clone, pattern, limit)
    unique: dict[str, CorpusScript] = {}
    for s in scripts:
        unique.setdefault(s.job_key, s)
    listed_s = time.perf_counter() - t0
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="pg-lint-corpus-") as tmp:
        reader = BlobReader(clone)
        try:
            work = [(k, str(_materialize(reader, s, Path(tmp))), f"{s.ref}:{s.path}", select, ignore, timeout_s)
                    for k, s in unique.items()]
        finally:
            reader.close()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(work), desc="lint corpus", unit="script")
        # big files first so the pool does not finish on one long straggler
        work.sort(key=lambda j: -Path(j[1]).stat().st_size)
        # a fresh pool per batch bounds what a worker accumulates; ProcessPoolExecutor's own
        # max_tasks_per_child deadlocks on CPython 3.11 once every worker has been retired
        batch = max(1, jobs) * TASKS_PER_WORKER
        for start in range(0, len(work), batch):
            with cf.ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
                for fut in cf.as_completed([pool.submit(_lint_one, j) for j in work[start:start + batch]]):
                    try:
                        key, row = fut.result()
                    except Exception as exc:  # the worker process itself died (native stack overflow)
                        key, row = None, {"verdict": "unparsable", "reason": f"worker died: {exc}"[:300], "findings": [],
                                          "crash": True}
                    if key is not None:
                        rows[key] = row
                    if bar is not None:
                        bar.update(1)
        if bar is not None:
            bar.close()
    results = []
    for s in scripts:
        row = rows.get(s.job_key, {"verdict": "unparsable", "reason": "worker died", "findings": [], "crash": True})
        results.append({"ref": s.ref, "path": s.path, "blob": s.blob, **row})
    elapsed = time.perf_counter() - t0
    return {"clone": str(clone), "refs_pattern": pattern, "refs": n_refs,
            "refs_with_scripts": len({s.ref for s in scripts}), "scripts": len(scripts), "unique_scripts": len(unique),
            "jobs": jobs, "seconds": round(elapsed, 1), "listing_seconds": round(listed_s, 1),
            "summary": summarize(results), "results": results}


def summarize(results: list[dict]) -> dict:
    verdicts = {"illegal": 0, "warning": 0, "clean": 0, "unparsable": 0}
    refs_verdict: dict[str, str] = {}
    rank = {"clean": 0, "warning": 1, "unparsable": 2, "illegal": 3}
    rules: dict[str, int] = {}
    for r in results:
        verdicts[r["verdict"]] += 1
        prev = refs_verdict.get(r["ref"])
        if prev is None or rank[r["verdict"]] > rank[prev]:
            refs_verdict[r["ref"]] = r["verdict"]
        for code in {f["rule"] for f in r["findings"] if f["severity"] == "error"}:
            rules[code] = rules.get(code, 0) + 1
    per_ref = {"illegal": 0, "warning": 0, "clean": 0, "unparsable": 0}
    for v in refs_verdict.values():
        per_ref[v] += 1
    return {"scripts_by_verdict": verdicts, "refs_by_verdict": per_ref, "crashes": sum(1 for r in results if r.get("crash")),
            "scripts_with_error_by_rule": dict(sorted(rules.items()))}


def render_table(report: dict) -> str:
    s = report["summary"]
    lines = [f"{report['refs']} refs matched {report['refs_pattern']}; {report['refs_with_scripts']} add records scripts "
             f"({report['scripts']} scripts, {report['unique_scripts']} distinct); {report['seconds']:.1f} s with "
             f"{report['jobs']} worker(s); {s['crashes']} crash(es)", "",
             f"{'verdict':<12}{'scripts':>9}{'refs':>8}", "-" * 29]
    for v in ("illegal", "warning", "clean", "unparsable"):
        lines.append(f"{v:<12}{s['scripts_by_verdict'][v]:>9}{s['refs_by_verdict'][v]:>8}")
    if s["scripts_with_error_by_rule"]:
        lines += ["", f"{'rule (error)':<14}{'scripts':>9}", "-" * 23]
        lines += [f"{code:<14}{n:>9}" for code, n in s["scripts_with_error_by_rule"].items()]
    return "\n".join(lines)


def run_corpus(clone: str, pattern: str, *, jobs: int = 1, fmt: str = "text", limit: int | None = None,
               select=None, ignore=None, timeout_s: float = 120.0) -> int:
    from harness.errors import MissingDataError, UsageError

    if not Path(clone).exists():
        raise MissingDataError("no such git clone", path=clone)
    if fmt not in ("text", "json"):
        raise UsageError("corpus mode prints text or json")
    report = lint_corpus(clone, pattern, jobs=jobs, limit=limit, select=select, ignore=ignore, timeout_s=timeout_s,
                         progress=sys.stderr.isatty())
    if fmt == "json":
        print(json.dumps(report, indent=2))
    else:
        print(render_table(report))
    return 1 if report["summary"]["scripts_by_verdict"]["illegal"] else 0
