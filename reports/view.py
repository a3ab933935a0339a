"""What the templates show, computed once from a review (as saved JSON): banner, charts, checks, findings.

The templates only lay things out; every number and every decision about what to show is here,
so the HTML and Markdown reports cannot disagree.
"""

from __future__ import annotations

from typing import Any

from reports import svg

CAP_BYTES = 16_000_000
LIMIT_S = 600.0
VERDICT_TEXT = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}
STATUS_ORDER = {"fail": 0, "warn": 1, "pass": 2, "skip": 3}


def as_dict(review) -> dict[str, Any]:
    return review if isinstance(review, dict) else review.to_dict()


def _check(review: dict, cid: str) -> dict | None:
    return next((c for c in review.get("checks", []) if c.get("id") == cid), None)


def _run_name(run: dict) -> str:
    return f"seed {run['seed']}" if run.get("seed") is not None else run.get("log", "run")


def charts(review: dict) -> dict[str, Any]:
    runs = review.get("runs", [])
    out: dict[str, Any] = {}
    series = [(f"{_run_name(r)} ({r.get('log', '')})", [tuple(p) for p in r.get("train_loss_curve", [])]) for r in runs]
    series = [s for s in series if len(s[1]) >= 2]
    if series:
        out["loss"] = svg.line_chart(series, title="Training loss per run (from the logs)", x_label="step",
                                     y_label="train loss")
    names = [_run_name(r) for r in runs]
    unique = len(set(names)) == len(names)
    points = [(n if unique else f"{n} · {r.get('log', '')}", r["val_bpb"]) for n, r in zip(names, runs)
              if r.get("val_bpb") is not None]
    refs = []
    claimed = review.get("claims", {}).get("val_bpb")
    if claimed is not None:
        refs.append(("claimed", claimed, "claimed"))
    sig = _check(review, "significance") or {}
    prev = sig.get("data", {}).get("previous_val_bpb")
    if prev is not None:
        refs.append(("previous record", prev, "previous"))
    reproduced = (review.get("rescore") or {}).get("val_bpb")
    if reproduced is not None:
        refs.append(("reproduced", reproduced, "reproduced"))
    if points:
        out["bpb"] = svg.dot_chart(points, refs, title="Final val_bpb per run", unit="bits/byte")
    size = _check(review, "size.cap") or {}
    size_runs = size.get("data", {}).get("runs", [])
    if size_runs:
        worst = max(size_runs, key=lambda r: r.get("total", 0))
        out["budget"] = svg.stacked_bar(
            [("model", worst.get("model_bytes", 0), "model"), ("code", worst.get("code_bytes", 0), "code")],
            limit=size.get("data", {}).get("cap", CAP_BYTES),
            title=f"Artifact budget, largest run ({worst.get('log', '')}; code counted as {worst.get('basis', '?')})",
            unit="bytes")
    code = _check(review, "size.code_bytes") or {}
    cd = code.get("data", {})
    conventions = [(k, v) for k, v in cd.get("counted", {}).items()] + [(f"logged in {k}", v) for k, v in cd.get("logged", {}).items()]
    if conventions:
        out["code_conventions"] = conventions
    for cid, key, title in (("time.train", "train_time", "Training time per run"), ("time.eval", "eval_time", "Evaluation time per run")):
        c = _check(review, cid) or {}
        rows = [(r.get("log", "?"), float(r["seconds"])) for r in c.get("data", {}).get("runs", []) if r.get("seconds") is not None]
        if rows:
            out[key] = svg.limit_bars(rows, limit=c.get("data", {}).get("limit_s", LIMIT_S), title=title, unit="s")
    return out


def findings(review: dict) -> list[dict]:
    """Lint findings with the file they are in, worst first."""
    lint = review.get("lint") or {}
    rules = {r["id"]: r for r in lint.get("rules", [])}
    out = []
    for f in lint.get("files", []):
        for x in f.get("findings", []):
            out.append({**x, "file": f.get("path"), "file_verdict": f.get("verdict"), "rule_meta": rules.get(x["rule"], {}),
                        "reach_text": ", ".join(f"{k.replace('_', ' ')}: {'yes' if v else 'no'}"
                                                for k, v in (x.get("reachability") or {}).items() if v is not None)})
    sev = {"error": 0, "warning": 1, "note": 2}
    out.sort(key=lambda x: (sev.get(x["severity"], 3), x["file"] or "", x["line"]))
    return out


def build(review) -> dict[str, Any]:
    r = as_dict(review)
    checks = sorted(r.get("checks", []), key=lambda c: STATUS_ORDER.get(c["status"], 9))
    counts = {s: sum(1 for c in checks if c["status"] == s) for s in ("fail", "warn", "pass", "skip")}
    lint_files = (r.get("lint") or {}).get("files", [])
    return {
        "review": r,
        "verdict": r["verdict"],
        "verdict_text": VERDICT_TEXT[r["verdict"]],
        "name": r.get("submission", {}).get("name") or r.get("submission", {}).get("folder") or "submission",
        "claimed": r.get("claims", {}).get("val_bpb"),
        "reproduced": (r.get("rescore") or {}).get("val_bpb"),
        "checks": checks,
        "counts": counts,
        "charts": charts(r),
        "findings": findings(r),
        "lint_files": lint_files,
        "sections": [(title, r.get(key)) for key, title in (("rescore", "Re-score by the harness"),
                                                           ("byte_audit", "Byte-accounting audit"),
                                                           ("probe", "Prefix-invariance probe"),
                                                           ("sandbox", "Sandboxed runs")) if r.get(key)],
    }
