"""Rule documentation generated from the rule classes (docstring, message, examples).

``docs/rules/<CODE>.md`` and ``docs/rules/index.md`` are written by ``python -m checks.docs`` and a
test fails when they are stale, so the documentation cannot drift from the rules. ``harness lint-ttt
--explain CODE`` prints the same text.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import jinja2

from checks.registry import RULES

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("checks", "templates"), autoescape=False,
                          keep_trailing_newline=True, trim_blocks=False, lstrip_blocks=False)


def render_rule(rule) -> str:
    return _ENV.get_template("rule.md.j2").render(
        rule=rule, help=inspect.cleandoc(rule.__doc__ or ""), invalid=rule.INVALID, valid=rule.VALID,
        module=rule.__module__)


def render_index() -> str:
    return _ENV.get_template("index.md.j2").render(rules=[r for r in RULES if not r.RETIRED])


def expected_docs() -> dict[str, str]:
    """File name under docs/rules -> content."""
    out = {f"{r.CODE}.md": render_rule(r) for r in RULES}
    out["index.md"] = render_index()
    return out


def write_docs(folder: Path) -> list[Path]:
    from harness.atomic import atomic_write_text

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in expected_docs().items():
        atomic_write_text(folder / name, text)
        written.append(folder / name)
    return written


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "rules"
    for p in write_docs(root):
        print(p)
