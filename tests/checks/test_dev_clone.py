"""The full dev set against the real PR heads, read from a local clone of openai/parameter-golf.

Set PARAMETER_GOLF_REPO to the clone (bare is fine; PR heads fetched as refs/pull/N/head). Each row's
submission folder is extracted at its head SHA and linted with its folder context. Rows the checker
still gets wrong are listed in KNOWN_MISSES with the reason, and xfail strictly: fixing one makes
the test fail until it is removed from the list.
"""

import json
import subprocess
from pathlib import Path

import pytest

from checks.api import lint_file
from tests.shared_data import parameter_golf_repo, ttt_labels

KNOWN_MISSES = {
    (168, "illegal"): "paid prefix read from a file prepared outside the script: nothing in the code writes it",
    (301, "illegal"): "TTT_EPOCHS defaults to 0 and no README/log command enables it; the README reports the TTT run",
    (525, "illegal"): "epoch-wrapped rescoring found, but only on a path the defaults and run command do not reach",
    (675, "illegal"): "SLOT delta optimised through a helper the interpreter does not follow",
    (713, "illegal"): "epoch-wrapped rescoring found, but only on a path the defaults and run command do not reach",
    (1077, "legal"): "score-first loop without a last-chunk guard is read as a re-score",
    (1127, "no_ttt"): "the TTT function is defined and reachable in the no-TTT variant of the same PR",
    (1170, "illegal"): "n-gram rescoring reached only when TTT is enabled through a setting the analysis does not see",
    (1644, "legal"): "phase bookkeeping read as a second pass over scored chunks (warning only)",
}


def _rows():
    path = ttt_labels()
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _extract(repo: Path, sha: str, folder: str, dest: Path) -> None:
    """The folder's files at ``sha`` (blobs a partial clone lacks, like big checkpoints, are skipped)."""
    from checks.corpus import BlobReader

    listing = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", sha, "--", folder + "/"], check=True,
                             capture_output=True, text=True).stdout
    reader = BlobReader(str(repo))
    try:
        for line in listing.splitlines():
            meta, _, path = line.partition("\t")
            kind, blob = meta.split()[1:3]
            if kind != "blob":
                continue
            target = dest / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(reader.read(blob))
    finally:
        reader.close()


def _params():
    try:
        rows = _rows()
    except BaseException:  # shared data missing: one skipped case
        return [pytest.param(None, id="no-shared-data")]
    out = []
    for row in rows:
        key = (row["pr"], row["verdict"])
        marks = [pytest.mark.xfail(reason=KNOWN_MISSES[key], strict=True)] if key in KNOWN_MISSES else []
        out.append(pytest.param(row, id=f"{row['pr']}-{row['category']}", marks=marks))
    return out


@pytest.mark.parametrize("row", _params())
def test_dev_row_verdict(row, tmp_path):
    if row is None:
        pytest.skip("shared data missing")
    repo = parameter_golf_repo()
    folder = str(Path(row["path"]).parent)
    _extract(repo, row["head_sha"], folder, tmp_path)
    result = lint_file(tmp_path / row["path"], row["path"])
    want = "illegal" if row["verdict"] == "illegal" else "clean"
    got = [(f.code, f.severity, f.location.line) for f in result.findings]
    assert result.verdict == want, got
