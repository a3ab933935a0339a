"""`harness evaluate [SUBMISSION] [--offline]`: audit a submission's claims against its evidence.

Offline, it reads the folder: submission.json, train logs, scripts; runs every check; prints a
summary (or JSON) and writes the review reports. Exit 1 when the verdict is `fail`, 2 when the
harness could not run. A folder of submission folders (e.g. `records/track_10min_16mb`) is audited
as a batch with a leaderboard-style table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STATUS_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="audit a submission (claims vs evidence, size, time, significance, TTT legality) and report",
        description="Audit a records-style submission folder. With no folder, the bundled example submission.",
    )
    p.add_argument("submission", nargs="?", help="submission folder, or a folder of submission folders (batch)")
    p.add_argument("--offline", action="store_true", help="only read the evidence; do not run the submission")
    p.add_argument("--against", metavar="FOLDER", help="previous record's folder for the significance test")
    p.add_argument("--against-values", metavar="X,Y,Z", help="previous record's per-seed val_loss values (nats)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--json", metavar="PATH", help="write the review as JSON")
    p.add_argument("--html", metavar="PATH", help="write the HTML report")
    p.add_argument("--markdown", metavar="PATH", help="write a Markdown report (PR-comment sized)")
    p.add_argument("--no-report", action="store_true", help="do not write the default HTML report")
    p.add_argument("--no-lint", action="store_true", help="skip the static TTT legality check")
    p.add_argument("--batch", action="store_true", help="treat SUBMISSION as a folder of submissions")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when the verdict is fail")
    from harness.repro.pipeline import add_arguments

    add_arguments(p)
    p.set_defaults(handler=run)


def _is_batch(folder: Path) -> bool:
    if any(folder.glob("submission*.json")) or any(folder.glob("train_gpt*.py")):
        return False
    return any(any(c.glob("submission*.json")) or any(c.glob("train_gpt*.py")) for c in folder.iterdir() if c.is_dir())


def _against_values(text: str | None) -> list[float] | None:
    if text is None:
        return None
    from harness.errors import UsageError

    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"--against-values must be comma-separated numbers, got {text!r}")


def default_example() -> Path:
    from harness.errors import MissingDataError

    from harness.repro.example import FOLDER as root

    if not root.is_dir():
        raise MissingDataError("the bundled example submission is missing; pass a submission folder", path=root)
    return root


def run(args: argparse.Namespace) -> int:
    from harness.errors import MissingDataError

    folder = Path(args.submission) if args.submission else default_example()
    if not folder.is_dir():
        raise MissingDataError("submission folder not found", path=folder)
    if args.batch or _is_batch(folder):
        return _run_batch(folder, args)
    review = _review(folder, args)
    _write_outputs(review, args, folder)
    if args.format == "json":
        print(json.dumps(review.to_dict(), indent=2))
    else:
        print(render_text(review))
    return 0 if (review.verdict != "fail" or args.exit_zero) else 1


def _review(folder: Path, args: argparse.Namespace):
    from harness.audit.runner import audit_submission

    review = audit_submission(folder, against=args.against, against_values=_against_values(args.against_values),
                              lint=not args.no_lint)
    if not args.offline:
        from harness.repro.pipeline import reproduce_into

        reproduce_into(review, folder, args)
    return review


def _write_outputs(review, args: argparse.Namespace, folder: Path) -> None:
    from harness.atomic import atomic_write_json

    if args.json:
        atomic_write_json(args.json, review.to_dict())
    html, md = args.html, args.markdown
    if html is None and md is None and not args.no_report and args.format == "text":
        html = f"{_slug(review.submission.get('folder') or folder.name)}.review.html"
    if html is None and md is None:
        return
    try:
        from reports import write_review_outputs
    except ImportError:
        print("harness: reports package unavailable; no HTML/Markdown written", file=sys.stderr)
        return
    written = write_review_outputs(review, html=html, markdown=md)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "submission"


def render_text(review) -> str:
    lines = [f"{review.submission.get('name')} ({review.submission.get('path')})",
             f"verdict: {review.verdict.upper()} - {review.reason}", ""]
    for c in review.checks:
        lines.append(f"  [{STATUS_MARK[c.status]}] {c.id}: {c.message}")
        for e in c.evidence[:3]:
            where = f"{e.path}:{e.line}" if e.line else e.path
            lines.append(f"           {where}: {e.text[:160]}")
    return "\n".join(lines)


def _run_batch(folder: Path, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from harness.audit.runner import audit_submission
    from harness.errors import HarnessError

    subs = sorted(c for c in folder.iterdir() if c.is_dir() and (any(c.glob("submission*.json")) or any(c.glob("train_gpt*.py"))))
    rows, reviews = [], []
    for sub in tqdm(subs, desc="audit", unit="submission", file=sys.stderr, disable=args.format == "json"):
        try:
            r = audit_submission(sub, lint=not args.no_lint)
        except HarnessError as exc:
            rows.append({"folder": sub.name, "verdict": "error", "error": exc.describe()})
            continue
        reviews.append(r)
        claim = r.check("claim.logs")
        size = r.check("size.cap")
        worst_total = max((row["total"] for row in (size.data.get("runs") or [])), default=None) if size else None
        rows.append({"folder": sub.name, "verdict": r.verdict, "claimed_bpb": r.claims.get("val_bpb"),
                     "log_mean_bpb": claim.data.get("mean") if claim else None, "bytes": worst_total,
                     "failing": [c.id for c in r.checks if c.status == "fail"],
                     "warning": [c.id for c in r.checks if c.status == "warn"]})
    if args.json:
        from harness.atomic import atomic_write_json

        atomic_write_json(args.json, {"batch": str(folder), "submissions": [r.to_dict() for r in reviews], "table": rows})
    if args.format == "json":
        print(json.dumps({"batch": str(folder), "table": rows}, indent=2))
    else:
        print(f"{'submission':60s} {'verdict':7s} {'claimed':>10s} {'log mean':>10s} {'bytes':>11s}  failing checks")
        for row in sorted(rows, key=lambda r: (r.get("claimed_bpb") is None, r.get("claimed_bpb") or 0)):
            if row["verdict"] == "error":
                print(f"{row['folder'][:60]:60s} {'ERROR':7s} {row['error']}")
                continue
            fmt = lambda v, f: format(v, f) if v is not None else "-"  # noqa: E731
            print(f"{row['folder'][:60]:60s} {row['verdict'].upper():7s} {fmt(row['claimed_bpb'], '10.5f'):>10s} "
                  f"{fmt(row['log_mean_bpb'], '10.5f'):>10s} {fmt(row['bytes'], '11,d'):>11s}  {', '.join(row['failing'])}")
        counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in ("pass", "warn", "fail", "error")}
        print(f"\n{len(rows)} submissions: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
    bad = any(r["verdict"] in ("fail", "error") for r in rows)
    return 0 if (not bad or args.exit_zero) else 1
