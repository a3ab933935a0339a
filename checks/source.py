"""Reading submission code into SourceUnits: encodings, decoded payloads, sibling files.

Nothing is executed. A file is read as bytes and decoded (UTF-8 with or without BOM, a PEP 263
coding cookie, latin-1 as the last resort, with a note). Self-extracting payloads
(``exec(lzma.decompress(base64.b85decode(...)))`` and the zlib/brotli/base64 variants, however the
decoded code is then run: exec, compile under a fake filename, importlib, a temp-folder bundle)
are decoded statically by checks/payload.py with a size cap, recursively up to a depth. A stub
that execs a sibling file brings that file in. Every unit says how it was reached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from checks.findings import SourceUnit
from checks.payload import decode_payloads, undecodable_payloads

MAX_DEPTH = 3
MAX_FILE_BYTES = 20 * 1024 * 1024
CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


@dataclass
class Loaded:
    units: list[SourceUnit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    undecodable: list[tuple[str, int, str]] = field(default_factory=list)  # (path, line, reason)


def decode_bytes(raw: bytes) -> tuple[str, str | None]:
    """Source text and a note when the encoding was not plain UTF-8."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace"), "UTF-8 with a byte-order mark"
    for line in raw.splitlines()[:2]:
        m = CODING.match(line)
        if m and m.group(1).decode().lower().replace("_", "-") not in ("utf-8", "utf8"):
            try:
                return raw.decode(m.group(1).decode()), f"declared encoding {m.group(1).decode()}"
            except (LookupError, UnicodeDecodeError):
                break
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "not UTF-8: read as latin-1"


def _expand(unit: SourceUnit, loaded: Loaded, depth: int) -> None:
    loaded.units.append(unit)
    if depth >= MAX_DEPTH:
        return
    for line, reason in undecodable_payloads(unit.text):
        loaded.undecodable.append((unit.path, line, reason))
    for i, p in enumerate(decode_payloads(unit.text)):
        parent = unit.display_path
        how = f"exec at {parent}:{p.line}"
        if "linecache" in unit.text or "compile(" in unit.text:
            how += " (compiled under a registered filename)" if "linecache" in unit.text else ""
        if "importlib" in unit.text or "module_from_spec" in unit.text:
            how += " (loaded as a module through importlib)"
        child = SourceUnit(unit.path, p.text, virtual_path=f"{parent}::payload[{i}]",
                           reached=(*unit.reached, how, *p.chain), origin_line=p.line)
        _expand(child, loaded, depth + 1)
    for name, body in _bundle_files(unit.text):
        child = SourceUnit(unit.path, body, virtual_path=f"{unit.display_path}::{name}",
                           reached=(*unit.reached, f"bundled file {name} unpacked by {unit.display_path}"))
        _expand(child, loaded, depth + 1)


def _bundle_files(text: str) -> list[tuple[str, str]]:
    """Multi-file bundles: a dict of filename -> decoded source written to a temp folder and run.
    The decoded dict appears as a payload whose text is itself a Python/JSON mapping of files."""
    out = []
    m = re.match(r"\s*\{", text)
    if not m or len(text) > 8 * 1024 * 1024:
        return out
    try:
        import ast

        data = ast.literal_eval(text.strip())
    except Exception:
        try:
            import json

            data = json.loads(text)
        except Exception:
            return out
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(k, str) and k.endswith(".py") and isinstance(v, str):
                out.append((k, v))
    return out


SIBLING = re.compile(r"""["']([\w.\-]+\.py)["']""")


def siblings_run_by(text: str, folder: Path, own: Path) -> list[Path]:
    """Files next to ``own`` that it runs: ``exec(open(__file__.replace(a, b)).read())``, runpy,
    ``import_module``/``spec_from_file_location`` of a name in the folder."""
    if not any(k in text for k in ("exec(", "runpy", "import_module", "spec_from_file_location", "subprocess")):
        return []
    found = []
    for name in SIBLING.findall(text):
        cand = folder / name
        if cand.is_file() and cand.resolve() != own.resolve() and cand not in found:
            found.append(cand)
    return found


def load_file(path: str | Path, display: str | None = None) -> Loaded:
    path = Path(path)
    loaded = Loaded()
    raw = path.read_bytes()[:MAX_FILE_BYTES]
    text, note = decode_bytes(raw)
    shown = display or str(path)
    if note:
        loaded.notes.append(f"{shown}: {note}")
    _expand(SourceUnit(shown, text), loaded, 0)
    for sib in siblings_run_by(text, path.parent, path):
        stext, snote = decode_bytes(sib.read_bytes()[:MAX_FILE_BYTES])
        if snote:
            loaded.notes.append(f"{sib}: {snote}")
        _expand(SourceUnit(str(Path(shown).parent / sib.name) if display else str(sib), stext,
                           reached=(f"executed by {Path(shown).name}",)), loaded, 1)
    return loaded


def submission_scripts(folder: Path) -> list[Path]:
    """The entry scripts of a submission folder: train_gpt*.py, or any top-level .py with a main guard."""
    scripts = sorted(p for p in folder.glob("train_gpt*.py") if p.is_file())
    if scripts:
        return scripts
    out = []
    for p in sorted(folder.glob("*.py")):
        try:
            head = p.read_bytes()[:MAX_FILE_BYTES]
        except OSError:
            continue
        if b"__main__" in head:
            out.append(p)
    return out


def data_preparation_scripts(script: Path, shown_dir: str | None = None, max_bytes: int = 1 << 20) -> list[SourceUnit]:
    """Other Python files next to ``script`` that write both validation and training shards.

    They are not run by the script, so they are not interpreted; the data-preparation rules read them."""
    out = []
    for p in sorted(script.parent.glob("*.py")):
        if p.resolve() == script.resolve() or not p.is_file() or p.stat().st_size > max_bytes:
            continue
        text, _ = decode_bytes(p.read_bytes())
        if "fineweb_val" in text and "fineweb_train" in text:
            shown = p.name if shown_dir in (None, "", ".") else f"{shown_dir.rstrip('/')}/{p.name}"
            out.append(SourceUnit(shown if shown_dir is not None else str(p), text))
    return out
