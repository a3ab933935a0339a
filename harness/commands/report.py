"""`harness report REVIEW.json --format html|md|json|sarif [-o PATH]`: render a saved review again."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="render a saved review (review.json) as HTML, Markdown, JSON or SARIF",
                       description="Render the JSON that `harness evaluate --json PATH` saved, without re-running anything.")
    p.add_argument("review", help="review JSON written by `harness evaluate --json`")
    p.add_argument("--format", choices=["html", "md", "json", "sarif"], default="html")
    p.add_argument("-o", "--output", metavar="PATH", help="write here (atomically) instead of standard output")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.errors import DataFormatError, MissingDataError
    from harness.review import Review
    from reports.render import FORMATS

    path = Path(args.review)
    if not path.is_file():
        raise MissingDataError("review file not found", path=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        review = Review.from_dict(data)  # validates the schema version and the record shapes
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"not a JSON review: {exc}", path=path) from exc
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"not a review this harness can read: {exc}", path=path) from exc
    text = FORMATS[args.format](review)
    if args.output:
        from harness.atomic import atomic_write_text

        atomic_write_text(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
