"""One small exception hierarchy. The CLI turns a HarnessError into one readable line and exit code 2.

Every error names what it read (a file, and a line where there is one) and what was wrong with it.
The ``slug`` is stable and maps to an anchor in docs/errors.md.
"""

from __future__ import annotations

from pathlib import Path


class HarnessError(Exception):
    """An error the harness can explain: bad input, missing data, a usage mistake."""

    slug = "harness-error"

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None, slug: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        if slug is not None:
            self.slug = slug
        super().__init__(self.describe())

    def describe(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.message}"


class UsageError(HarnessError):
    slug = "usage"


class DataFormatError(HarnessError):
    """A shard, sidecar, JSONL or tokenizer file that does not match the challenge's format."""

    slug = "data-format"


class MissingDataError(HarnessError):
    slug = "missing-data"


class SubmissionError(HarnessError):
    """A submission folder that cannot be read (malformed submission.json, no script, ...)."""

    slug = "submission"


class LegalityError(HarnessError):
    """The evaluator was asked to do something that would break score-first legality."""

    slug = "legality"
