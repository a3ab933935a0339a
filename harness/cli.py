"""The `harness` command line.

Each subcommand lives in its own module under ``harness.commands`` and exposes
``register(subparsers)``; the module adds its parser and sets ``handler`` to a function
``(args) -> int``. Modules import heavy libraries (torch, libcst) inside their handlers so
``harness --help`` and ``harness lint-ttt`` start fast.

Exit codes (ruff/bandit/coverage convention):
  0  ok: nothing at or above the failure threshold
  1  findings: a rule violation, a failed check, a claim that does not hold
  2  the harness could not run: usage error, missing or malformed input, internal error
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from harness import __version__
from harness.errors import HarnessError

# Order is the order of `harness --help`.
COMMAND_MODULES = (
    "harness.commands.evaluate",
    "harness.commands.lint_ttt",
    "harness.commands.report",
    "harness.commands.eval_tokens",
    "harness.commands.data",
    "harness.commands.audit_tokenizer",
    "harness.commands.probe",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 on usage errors; keep that, with our prefix
        self.print_usage(sys.stderr)
        self.exit(2, f"harness: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Audit, lint and re-score Parameter Golf submissions.")
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    parser.add_argument("--debug", action="store_true", help="print tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except HarnessError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"harness: error [{exc.slug}]: {exc.describe()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 2
    except Exception as exc:  # an internal error must never exit 0
        traceback.print_exc()
        print(f"harness: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
