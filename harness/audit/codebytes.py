"""Code bytes, counted every way the records count them.

The README rule counts the code that is shipped. Records use three conventions (pg_eval_spec §5.3):
the raw bytes of the running ``train_gpt.py``; a shipped self-extracting wrapper whose own size is
counted; a *computed* size of a minified, compressed wrapper that is logged while the shipped
script is plain source. A short stub that execs a sibling file ships both files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from checks.payload import decode_payloads


@dataclass
class CodeSizes:
    script: str | None
    shipped: int | None  # what the folder ships to run: the script plus any sibling it executes
    counted: dict[str, int] = field(default_factory=dict)  # convention -> bytes
    wrapper: bool = False
    stub_of: list[str] = field(default_factory=list)

    def convention_of(self, value: int) -> str | None:
        """Which way of counting gives ``value`` (first match in a fixed order)."""
        for name, n in self.counted.items():
            if n == value:
                return name
        return None


def measure_code(script: Path | None, siblings: list[Path]) -> CodeSizes:
    if script is None or not script.is_file():
        return CodeSizes(None, None)
    raw = script.read_bytes()
    sizes = CodeSizes(script.name, len(raw) + sum(p.stat().st_size for p in siblings))
    text = raw.decode("utf-8-sig", errors="replace")
    payloads = decode_payloads(text) if len(raw) < 2_000_000 else []
    sizes.wrapper = bool(payloads)
    if siblings:
        sizes.stub_of = [p.name for p in siblings]
        sizes.counted["stub plus the sibling it runs (shipped)"] = sizes.shipped
        sizes.counted["stub alone"] = len(raw)
        for p in siblings:
            sizes.counted[f"sibling {p.name} alone"] = p.stat().st_size
    elif payloads:
        sizes.counted["shipped self-extracting wrapper"] = len(raw)
        sizes.counted["decoded source inside the wrapper"] = sum(len(p.text.encode("utf-8")) for p in payloads)
    else:
        sizes.counted["raw script (shipped)"] = len(raw)
    return sizes
