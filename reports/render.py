"""Rendering a review: HTML (one self-contained file), Markdown (PR-comment sized), JSON, SARIF.

Templates are jinja2 with autoescaping for HTML. Markdown has no escaping of its own, so the ``md``
filter neutralises what a hostile submission could smuggle into a PR comment (tables, links, HTML,
@-mentions) and ``fence`` picks a code fence longer than any backtick run in the text.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jinja2

from reports import view

GITHUB_COMMENT_LIMIT = 65_536
MD_ESCAPE = re.compile(r"([\\`*_\[\]|#!~])")


def _md(text) -> str:
    text = str(text).replace("\r", " ").replace("\n", " ")
    text = MD_ESCAPE.sub(r"\\\1", text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return text.replace("@", "@\u200b")  # no mentions from submission text


def _code(text) -> str:
    return str(text).replace("`", "'").replace("\n", " ")


def _fence(lines, lang: str = "") -> str:
    if isinstance(lines, list):
        body = "\n".join(f"{l['line']:5d} | {l['text']}" if isinstance(l, dict) else str(l) for l in lines)
    else:
        body = str(lines)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{body}\n{fence}"


def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"), autoescape=autoescape,
                             undefined=jinja2.ChainableUndefined, trim_blocks=False, lstrip_blocks=False)
    env.filters["md"] = _md
    env.filters["code"] = _code
    env.filters["fence"] = _fence
    return env


_HTML = _env(autoescape=True)
_MD = _env(autoescape=False)


def render_html(review) -> str:
    css = resources.files("reports").joinpath("templates/style.css").read_text(encoding="utf-8")
    return _HTML.get_template("review.html.j2").render(**view.build(review), css=css)


def render_markdown(review, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    ctx = view.build(review)
    ctx["evidence_checks"] = [c for c in ctx["checks"] if c["status"] in ("fail", "warn") and c.get("evidence")]
    ctx["icon"] = {"pass": "✅", "warn": "⚠️", "fail": "❌"}[ctx["verdict"]]
    ctx["status_icon"] = {"pass": "✅", "warn": "⚠️", "fail": "❌", "skip": "➖"}
    max_findings = 25
    while True:
        text = _MD.get_template("review.md.j2").render(**ctx, max_findings=max_findings)
        if len(text) <= limit or max_findings == 0:
            break
        max_findings //= 2  # shrink the longest part until the comment fits
    if len(text) > limit:
        text = text[: limit - 80] + "\n\n… (truncated to fit a PR comment; see the HTML report)\n"
    return text


def render_json(review) -> str:
    return json.dumps(view.as_dict(review), indent=2) + "\n"


def render_sarif(review) -> str:
    from checks.output.sarif import sarif_from_json

    lint = view.as_dict(review).get("lint") or {"files": [], "rules": []}
    return json.dumps(sarif_from_json(lint), indent=2) + "\n"


FORMATS = {"html": render_html, "md": render_markdown, "markdown": render_markdown, "json": render_json,
           "sarif": render_sarif}


def write_review_outputs(review, *, html=None, markdown=None, json=None, sarif=None) -> list[Path]:
    """Write the requested formats atomically; returns the paths written."""
    from harness.atomic import atomic_write_text

    written = []
    for path, fn in ((html, render_html), (markdown, render_markdown), (json, render_json), (sarif, render_sarif)):
        if path is not None:
            written.append(atomic_write_text(path, fn(review)))
    return [Path(p) for p in written]
