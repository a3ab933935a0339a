"""Linting entry points: a source string, a file, a submission folder, many paths in parallel.

Analysis runs in worker processes with a timeout when asked (libcst can exhaust the native stack on
pathological input): a crash or a timeout becomes an `unparsable` result, never a hung run or a
traceback.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from dataclasses import asdict
from pathlib import Path

from checks.analyze import AnalysisContext, analyze_units
from checks.findings import FileResult, Finding
from checks.flow.program import UnparsableSource
from checks.runcmd import run_environment
from checks.source import Loaded, data_preparation_scripts, load_file, submission_scripts

DEFAULT_TIMEOUT_S = 120.0


def verdict_of(findings: list[Finding]) -> str:
    sev = {f.severity for f in findings}
    if "error" in sev:
        return "illegal"
    if "warning" in sev:
        return "warning"
    return "clean"


def _result(path: str, loaded: Loaded, context: AnalysisContext) -> FileResult:
    ctx = AnalysisContext(context.env_overrides, context.readme_command, context.logs, tuple(loaded.undecodable),
                          context.select, context.ignore, context.data_preparation)
    try:
        findings = analyze_units(loaded.units, ctx)
    except UnparsableSource as exc:
        from checks.analyze import _finding
        from checks.rules.data import Unparsable

        f = _finding(Unparsable, exc.unit, exc.line or 1, exc.col or 1, {"reason": exc.reason}, (), "error", "high", {}, "")
        return FileResult(path, "unparsable", [f], reason=exc.reason, units=[u.display_path for u in loaded.units],
                          texts={u.display_path: u.text for u in loaded.units})
    texts = {u.display_path: u.text for u in (*loaded.units, *context.data_preparation)}
    return FileResult(path, verdict_of(findings), findings, units=[u.display_path for u in loaded.units], texts=texts)


def lint_source(text: str, path: str = "<string>", context: AnalysisContext = AnalysisContext()) -> FileResult:
    from checks.findings import SourceUnit
    from checks.source import Loaded, _expand

    loaded = Loaded()
    _expand(SourceUnit(path, text), loaded, 0)
    return _result(path, loaded, context)


def lint_file(path: str | Path, display: str | None = None, context: AnalysisContext | None = None,
              folder_context: bool = True) -> FileResult:
    path = Path(path)
    shown = display or str(path)
    if context is None:
        context = folder_context_for(path, shown=shown) if folder_context else AnalysisContext()
    return _result(shown, load_file(path, shown), context)


def folder_context_for(path: Path, select=None, ignore=None, shown: str | None = None) -> AnalysisContext:
    """What the submission folder says about a script's run: the README/log run command, the logs,
    and the folder's data-preparation scripts."""
    env, command, logs = run_environment(path.parent)
    return AnalysisContext(env, command, tuple(logs), select=select, ignore=ignore,
                           data_preparation=tuple(data_preparation_scripts(path, str(Path(shown).parent) if shown else None)))


def _lint_job(job: tuple) -> FileResult:
    path, shown, select, ignore = job
    return lint_file(path, shown, folder_context_for(Path(path), select, ignore, shown=shown))


def expand_paths(paths: list[str]) -> list[tuple[Path, str]]:
    """Files as given, and for folders their entry scripts; each with the path to show."""
    out = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            for script in submission_scripts(p):
                out.append((script, str(Path(given) / script.name)))
        else:
            out.append((p, given))
    return out


def lint_paths(paths: list[str], *, select=None, ignore=None, jobs: int = 1, timeout_s: float = DEFAULT_TIMEOUT_S,
               isolate: bool = True, progress: bool = False) -> list[FileResult]:
    from harness.errors import MissingDataError

    for given in paths:
        if not Path(given).exists():
            raise MissingDataError("no such file or folder to lint", path=given)
    items = expand_paths(paths)
    results: dict[int, FileResult] = {}
    sel = tuple(select) if select else None
    ign = tuple(ignore) if ignore else None
    jobs_list = [(i, (str(p), shown, sel, ign)) for i, (p, shown) in enumerate(items)]
    if not isolate:
        for i, job in jobs_list:
            results[i] = _lint_job(job)
        return [results[i] for i in sorted(results)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs_list), desc="lint", unit="file", leave=False)
    with cf.ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_lint_job, job): (i, job) for i, job in jobs_list}
        for fut in cf.as_completed(futures):
            i, job = futures[fut]
            try:
                results[i] = fut.result(timeout=timeout_s)
            except Exception as exc:  # worker crashed (native stack overflow) or timed out
                results[i] = _crashed(job[1], exc)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return [results[i] for i in sorted(results)]


def _crashed(shown: str, exc: BaseException) -> FileResult:
    from checks.analyze import _finding
    from checks.findings import SourceUnit
    from checks.rules.data import Unparsable

    reason = f"the analysis process failed ({type(exc).__name__}: {exc})"[:300]
    f = _finding(Unparsable, SourceUnit(shown, ""), 1, 1, {"reason": reason}, (), "error", "high", {}, "")
    return FileResult(shown, "unparsable", [f], reason=reason)


def lint_submission(folder: str | Path) -> dict:
    """The lint-ttt JSON for a submission folder's entry scripts (used by the audit)."""
    from checks.output.jsonfmt import to_json

    results = [lint_file(p, str(p.relative_to(Path(folder))) if Path(folder) in p.parents else str(p))
               for p in submission_scripts(Path(folder))]
    return to_json(results, source_root=Path(folder))
