"""Documents in JSONL form (``{"text": ...}`` per line), as the challenge's ``docs_selected.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from harness.errors import DataFormatError, MissingDataError


def iter_documents(path: str | Path, limit: int | None = None) -> Iterator[str]:
    """The ``text`` of each line, in file order. Errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise MissingDataError("documents file not found", path=path)
    count = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if limit is not None and count >= limit:
                return
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise DataFormatError(f"line is not UTF-8 ({exc.reason} at byte {exc.start})", path=path, line=lineno)
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"line is not JSON: {exc.msg} (column {exc.colno})", path=path, line=lineno)
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise DataFormatError('expected an object with a string field "text"', path=path, line=lineno)
            count += 1
            yield obj["text"]


def count_documents(path: str | Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for raw in fh if raw.strip())
