"""Rendering of reviews: one self-contained HTML file, Markdown, JSON and SARIF."""
