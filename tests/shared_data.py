"""The one place tests find the challenge material in ../shared and the optional openai/parameter-golf clone.

``../shared`` (next to the repository) holds real tokenizers, 200 FineWeb documents, the records'
logs and the labelled legality verdicts. Nothing from it is committed here. ``PG_SHARED`` overrides
the location. A local clone of openai/parameter-golf is found through ``PARAMETER_GOLF_REPO``
(a bare mirror or a normal clone); tests that need it skip without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_root() -> Path | None:
    env = os.environ.get("PG_SHARED")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared", REPO_ROOT / "shared"]
    for cand in candidates:
        if (cand / "data" / "tokenizers").is_dir():
            return cand
    return None


def require_shared(*parts: str) -> Path:
    """Path inside ../shared, or skip the test with the reason."""
    root = shared_root()
    if root is None:
        pytest.skip("../shared (challenge tokenizers, FineWeb sample, records) not found; set PG_SHARED")
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present in ../shared")
    return path


def tokenizer(name: str) -> Path:
    """A real challenge tokenizer, e.g. ``tokenizer("fineweb_1024_bpe")``."""
    return require_shared("data", "tokenizers", f"{name}.model")


def fineweb_docs() -> Path:
    return require_shared("data", "fineweb_sample", "docs_200.jsonl")


def pg_records() -> Path:
    return require_shared("pg_records")


def ttt_labels() -> Path:
    return require_shared("labels", "ttt_dev.jsonl")


def parameter_golf_repo() -> Path:
    """A local clone (bare or not) of openai/parameter-golf, or skip."""
    env = os.environ.get("PARAMETER_GOLF_REPO")
    if not env or not Path(env).exists():
        pytest.skip("set PARAMETER_GOLF_REPO to a local clone of openai/parameter-golf to run this test")
    return Path(env)


def parameter_golf_main(tmp_root: Path) -> Path:
    """A plain folder with openai/parameter-golf's ``main`` tree (records/ with every train_gpt.py).

    ``PARAMETER_GOLF_MAIN`` may name an extracted copy; otherwise ``main`` is extracted once from
    ``PARAMETER_GOLF_REPO`` (bare or not) into ``tmp_root``. Skips when neither is set.
    """
    env = os.environ.get("PARAMETER_GOLF_MAIN")
    if env and (Path(env) / "records").is_dir():
        return Path(env)
    repo = parameter_golf_repo()
    out = tmp_root / "parameter-golf-main"
    if not (out / "records").is_dir():
        import subprocess
        import tarfile
        import io

        out.mkdir(parents=True, exist_ok=True)
        git_dir = repo / ".git" if (repo / ".git").exists() else repo
        data = subprocess.run(
            ["git", f"--git-dir={git_dir}", "archive", "main", "records"], check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(out, filter="data")
    return out
