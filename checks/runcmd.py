"""The run command a submission states: environment variables set in its README or visible in its
logs' hyperparameter dumps. They decide which code paths the reported run took."""

from __future__ import annotations

import re
from pathlib import Path

ASSIGN = re.compile(r"(?:^|[\s;&(])(?:export\s+)?([A-Z][A-Z0-9_]{1,63})=(\"[^\"]*\"|'[^']*'|[^\s;&|)]+)")
COMMAND = re.compile(r"(torchrun|python3?|accelerate launch|bash|sh)\b.*\.(py|sh)\b|train_gpt")
DUMP = re.compile(r"^\s{0,4}([a-z][a-z0-9_]{1,63}):\s+(True|False|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[\w./-]+)\s*$")


def env_from_readme(text: str) -> tuple[dict[str, str], str | None]:
    """Variables assigned on (or exported just before) the lines that launch training."""
    env: dict[str, str] = {}
    command = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not COMMAND.search(line):
            continue
        # the command may continue over backslash lines, and exports may precede it
        start = i
        while start > 0 and (lines[start - 1].rstrip().endswith("\\") or lines[start - 1].lstrip().startswith("export ")):
            start -= 1
        end = i
        while end + 1 < len(lines) and lines[end].rstrip().endswith("\\"):
            end += 1
        block = " ".join(l.rstrip("\\") for l in lines[start : end + 1])
        found = {k: v.strip("\"'") for k, v in ASSIGN.findall(block)}
        if found:
            env.update(found)
            command = command or block.strip()
    return env, command


def env_from_logs(texts: list[str]) -> dict[str, str]:
    """Hyperparameter dumps (``  ttt_enabled: True``) as the environment variables that set them."""
    env: dict[str, str] = {}
    for text in texts:
        for line in text.splitlines()[:600]:
            m = DUMP.match(line)
            if m:
                value = {"True": "1", "False": "0"}.get(m.group(2), m.group(2))
                env.setdefault(m.group(1).upper(), value)
    return env


def run_environment(folder: Path) -> tuple[dict[str, str] | None, str | None, list[str]]:
    """(env overrides or None, the command text, log texts) for a submission folder."""
    env: dict[str, str] = {}
    command = None
    readme = next((folder / n for n in ("README.md", "readme.md") if (folder / n).is_file()), None)
    if readme is not None:
        env, command = env_from_readme(readme.read_text(encoding="utf-8", errors="replace"))
    logs = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in (".log", ".txt") and p.stat().st_size < 32 * 1024 * 1024 and "requirements" not in p.name:
            logs.append(p.read_text(encoding="utf-8", errors="replace"))
    dumped = env_from_logs(logs)
    for k, v in dumped.items():
        env.setdefault(k, v)
    return (env or None), command, logs
