"""`harness lint-ttt PATH...`: static legality check of submission code (never runs it)."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lint-ttt",
        help="check submission code for illegal test-time training and validation leakage",
        description="Parse submission code with libcst (never executing it), follow validation data into updates, "
        "scores and reports, and report rule violations. Exit 1 when any file is illegal.",
    )
    p.add_argument("paths", nargs="*", help="files or submission folders")
    p.add_argument("--format", choices=["text", "json", "sarif", "github"], default="text")
    p.add_argument("--select", help="comma-separated rule codes or prefixes to run (e.g. TTT,NGR001)")
    p.add_argument("--ignore", help="comma-separated rule codes or prefixes to skip")
    p.add_argument("--explain", metavar="CODE", help="print a rule's documentation and exit")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per file before it is reported unparsable")
    p.add_argument("--show-source", action="store_true", help="print the source lines around each finding")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when files are illegal")
    p.add_argument("--git-repo", metavar="CLONE", help="corpus mode: lint the records scripts that refs add")
    p.add_argument("--refs", default="refs/pull/*/head", help="corpus mode: ref pattern (default refs/pull/*/head)")
    p.add_argument("--limit", type=int, default=None, help="corpus mode: only the first N refs")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.errors import UsageError

    if args.explain:
        from checks.analyze import explain

        try:
            print(explain(args.explain))
        except KeyError:
            raise UsageError(f"unknown rule code {args.explain!r}; see docs/rules/")
        return 0
    select = [s.strip() for s in args.select.split(",")] if args.select else None
    ignore = [s.strip() for s in args.ignore.split(",")] if args.ignore else None
    if args.git_repo:
        from checks.corpus import run_corpus

        return run_corpus(args.git_repo, args.refs, jobs=args.jobs, fmt=args.format, limit=args.limit,
                          select=select, ignore=ignore, timeout_s=args.timeout)
    if not args.paths:
        raise UsageError("give files or submission folders to lint (or --git-repo CLONE, or --explain CODE)")
    from checks.api import lint_paths
    from checks.output.jsonfmt import to_json

    results = lint_paths(args.paths, select=select, ignore=ignore, jobs=args.jobs, timeout_s=args.timeout,
                         progress=args.format == "text" and sys.stderr.isatty())
    if args.format == "json":
        print(json.dumps(to_json(results), indent=2))
    elif args.format == "sarif":
        from checks.output.sarif import sarif_from_json

        print(json.dumps(sarif_from_json(to_json(results)), indent=2))
    elif args.format == "github":
        from checks.output.github import render_github

        text = render_github(results)
        if text:
            print(text)
    else:
        from checks.output.text import render_text

        print(render_text(results, show_source=args.show_source))
    illegal = any(r.verdict == "illegal" for r in results)
    return 1 if (illegal and not args.exit_zero) else 0
