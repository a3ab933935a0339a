"""Review reports: one self-contained HTML file, Markdown for a PR comment, JSON and SARIF."""

from reports.render import render_html, render_json, render_markdown, render_sarif, write_review_outputs

__all__ = ["render_html", "render_json", "render_markdown", "render_sarif", "write_review_outputs"]
