"""Corpus mode over a small git repository made here: refs, base-branch filtering, dedupe, verdicts."""

import json
import shutil
import subprocess

import pytest

from checks.corpus import collect_scripts, lint_corpus, render_table
from checks.rules.ttt import AdaptBeforeScore

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

ILLEGAL = AdaptBeforeScore.INVALID[0].source()
LEGAL = AdaptBeforeScore.VALID[0].source()


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})


def commit_files(repo, files, message, branch):
    git(repo, "checkout", "-q", "-B", branch, "main")
    for path, text in files.items():
        p = repo / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        git(repo, "add", path)
    git(repo, "commit", "-q", "-m", message)
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    git(repo, "update-ref", f"refs/pull/{branch.split('-')[1]}/head", sha)


@pytest.fixture
def clone(tmp_path):
    repo = tmp_path / "pg"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "records" / "base").mkdir(parents=True)
    (repo / "records" / "base" / "train_gpt.py").write_text(LEGAL)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    commit_files(repo, {"records/a/train_gpt.py": LEGAL, "records/a/README.md": "legal"}, "legal", "pr-1")
    commit_files(repo, {"records/b/train_gpt.py": ILLEGAL, "records/b/train.log": "train_shards: 80\n"}, "ttt", "pr-2")
    # same folder contents as pr-2 under another ref: linted once
    commit_files(repo, {"records/b/train_gpt.py": ILLEGAL, "records/b/train.log": "train_shards: 80\n"}, "copy", "pr-3")
    commit_files(repo, {"records/c/train_gpt_v2.py": "def f(:\n", "records/c/helper.py": "x = 1\n"}, "broken", "pr-4")
    commit_files(repo, {"records/d/notes.md": "no code"}, "docs only", "pr-5")
    return repo


def test_collect_scripts_skips_base_branch_files_and_dedupes(clone):
    scripts, n_refs = collect_scripts(str(clone))
    assert n_refs == 5
    assert sorted((s.ref, s.path) for s in scripts) == [
        ("refs/pull/1/head", "records/a/train_gpt.py"),
        ("refs/pull/2/head", "records/b/train_gpt.py"),
        ("refs/pull/3/head", "records/b/train_gpt.py"),
        ("refs/pull/4/head", "records/c/train_gpt_v2.py"),
    ]
    keys = {s.ref: s.job_key for s in scripts}
    assert keys["refs/pull/2/head"] == keys["refs/pull/3/head"] != keys["refs/pull/1/head"]
    ctx = next(s for s in scripts if s.ref == "refs/pull/4/head").context
    assert set(ctx) == {"records/c/helper.py"}


def test_lint_corpus_verdicts_and_table(clone):
    report = lint_corpus(str(clone), jobs=2)
    by_ref = {r["ref"]: r for r in report["results"]}
    assert by_ref["refs/pull/1/head"]["verdict"] == "clean"
    assert by_ref["refs/pull/2/head"]["verdict"] == by_ref["refs/pull/3/head"]["verdict"] == "illegal"
    assert by_ref["refs/pull/4/head"]["verdict"] == "unparsable"
    assert report["unique_scripts"] == 3 and report["scripts"] == 4
    s = report["summary"]
    assert s["refs_by_verdict"] == {"illegal": 2, "warning": 0, "clean": 1, "unparsable": 1}
    assert s["scripts_with_error_by_rule"]["TTT001"] == 2
    assert s["crashes"] == 0
    table = render_table(report)
    assert "5 refs matched" in table and "illegal" in table and "TTT001" in table


def test_more_scripts_than_one_pool_batch(clone, monkeypatch):
    """Workers are recycled by starting a fresh pool per batch; every script still gets a row
    (ProcessPoolExecutor's own max_tasks_per_child hung the run once all workers had retired)."""
    import checks.corpus as corpus

    monkeypatch.setattr(corpus, "TASKS_PER_WORKER", 1)
    report = lint_corpus(str(clone), jobs=1)
    assert report["unique_scripts"] == 3
    assert all(r["verdict"] != "unparsable" or "worker died" not in r["reason"] for r in report["results"])
    assert {r["ref"] for r in report["results"]} == {f"refs/pull/{i}/head" for i in (1, 2, 3, 4)}


def test_corpus_cli(clone, capsys):
    from harness.cli import main

    code = main(["lint-ttt", "--git-repo", str(clone), "--format", "json", "--limit", "1"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["refs"] == 1 and doc["results"][0]["verdict"] == "clean"
    assert main(["lint-ttt", "--git-repo", str(clone / "nope")]) == 2
