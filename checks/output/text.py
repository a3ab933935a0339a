"""Human output: ``path:line:col: CODE message`` (clickable in editors), evidence, optional source."""

from __future__ import annotations

from checks.findings import FileResult


def render_text(results: list[FileResult], show_source: bool = False) -> str:
    out = []
    for r in results:
        for f in r.findings:
            where = f.location.virtual_path or f.location.path
            out.append(f"{where}:{f.location.line}:{f.location.col}: {f.code} [{f.severity}] {f.message}")
            if f.reached:
                out.append(f"    reached: {' -> '.join(f.reached)}")
            for e in f.evidence:
                loc = f"L{e.line}" if e.line else ""
                out.append(f"    {loc:>6} {e.description}" + (f": {e.code[:120]}" if e.code else ""))
            reach = {k: v for k, v in f.reachability.items() if v is not None}
            if reach:
                out.append("    reachable: " + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in reach.items()))
            if show_source:
                text = r.texts.get(where, "")
                lines = text.splitlines()
                for n in range(max(1, f.location.line - 2), min(len(lines), f.location.line + 2) + 1):
                    mark = ">" if n == f.location.line else " "
                    out.append(f"    {mark}{n:5d} | {lines[n - 1]}")
        status = r.verdict + (f" ({r.reason})" if r.reason else "")
        out.append(f"{r.path}: {status}")
    counts = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    out.append(f"{len(results)} file(s): " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    return "\n".join(out)
