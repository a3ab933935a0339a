"""The submission script: the reference model's code (and the harness modules it imports) as one
self-extracting file, like the records' lzma + base85 wrappers.

The wrapper decodes a JSON map {relative path: source}, writes it to a temporary folder and, run as
a script, runs ``reference_model.train`` from there with the arguments that trained the submission
(``ARGS``: preset and overrides) followed by its own. So ``python train_gpt.py`` with the challenge's
environment variables (DATA_PATH, TOKENIZER_PATH, SEED, ITERATIONS, MAX_WALLCLOCK_SECONDS) retrains
the submission as it was trained. Imported (the harness's gauntlet), it only unpacks. Its byte count is the
code size the trainer counts against the 16,000,000-byte cap and writes into the logs.
"""

from __future__ import annotations

import ast
import base64
import json
import lzma
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRY = "reference_model.train"
STUB = '''import base64,json,lzma,os,runpy,sys,tempfile
ARGS={args!r}
F=json.loads(lzma.decompress(base64.b85decode({payload!r})))
d=tempfile.mkdtemp(prefix="pgref-")
for n,s in F.items():
    p=os.path.join(d,n);os.makedirs(os.path.dirname(p),exist_ok=True);open(p,"w",encoding="utf-8").write(s)
sys.path.insert(0,d)
if __name__=="__main__":
    sys.argv[1:]=ARGS+sys.argv[1:]
    runpy.run_module("{entry}",run_name="__main__")
'''


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    for cand in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if cand.is_file():
            return cand
    return None


def _imports(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return {m for m in out if m.split(".")[0] in ("reference_model", "harness")}


def closure(entry: str = ENTRY) -> dict[str, str]:
    """Relative path -> source of every project module the entry point can import (packages' __init__ included)."""
    todo, files = [entry], {}
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if path is None:
            continue
        rel = path.relative_to(ROOT).as_posix()
        if rel in files:
            continue
        files[rel] = path.read_text(encoding="utf-8")
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += sorted(_imports(path, package))
    for rel in list(files):  # data files the modules read at import time
        if rel.endswith(".py"):
            folder = (ROOT / rel).parent
            for extra in folder.glob("*.toml"):
                files.setdefault(extra.relative_to(ROOT).as_posix(), extra.read_text(encoding="utf-8"))
    return dict(sorted(files.items()))


def build_script(args: list[str] | None = None, entry: str = ENTRY) -> str:
    """The self-extracting script; ``args`` (e.g. ``["--preset", "tiny_cpu", "--set", ...]``) are its defaults."""
    payload = base64.b85encode(lzma.compress(json.dumps(closure(entry)).encode(), preset=9)).decode()
    return STUB.format(payload=payload, entry=entry, args=list(args or []))


def code_bytes(script: str) -> int:
    return len(script.encode("utf-8"))
