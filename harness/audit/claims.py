"""What a submission claims, read from submission.json in any of the field variants seen."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import SubmissionError

HEADLINE_KEYS = ("val_bpb", "mean_val_bpb", "mean_bpb")


@dataclass
class SeedClaim:
    seed: int
    val_bpb: float | None = None
    val_loss: float | None = None
    artifact_bytes: int | None = None


@dataclass
class Claims:
    path: str
    raw: dict[str, Any]
    name: str | None = None
    author: str | None = None
    track: str | None = None
    val_bpb: float | None = None
    val_bpb_key: str | None = None
    val_loss: float | None = None
    pre_quant_val_bpb: float | None = None
    seeds: dict[int, SeedClaim] = field(default_factory=dict)
    bytes_total: int | None = None
    bytes_code: int | None = None
    bytes_model: int | None = None
    problems: list[str] = field(default_factory=list)  # fields present with the wrong type

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "name": self.name, "author": self.author, "track": self.track,
            "val_bpb": self.val_bpb, "val_bpb_key": self.val_bpb_key, "val_loss": self.val_loss,
            "pre_quant_val_bpb": self.pre_quant_val_bpb,
            "seeds": {str(k): vars(v) for k, v in sorted(self.seeds.items())},
            "bytes_total": self.bytes_total, "bytes_code": self.bytes_code, "bytes_model": self.bytes_model,
            "problems": self.problems,
        }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def load_claims(path: str | Path, display: str | None = None) -> Claims:
    path = Path(path)
    shown = display or str(path)
    try:
        raw = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"submission.json is not UTF-8 (byte {exc.start})", path=shown)
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"submission.json is not valid JSON: {exc.msg} (column {exc.colno})", path=shown, line=exc.lineno)
    if not isinstance(raw, dict):
        raise SubmissionError(f"submission.json must hold a JSON object, found {type(raw).__name__}", path=shown)
    c = Claims(path=shown, raw=raw)
    for key in ("name", "author", "track"):
        v = raw.get(key)
        if v is not None and not isinstance(v, str):
            c.problems.append(f'"{key}" should be a string, found {type(v).__name__}')
        elif v is not None:
            setattr(c, key, v)
    for key in HEADLINE_KEYS:
        if key in raw:
            v = _number(raw[key])
            if v is None:
                c.problems.append(f'"{key}" should be a number, found {json.dumps(raw[key])[:40]}')
                continue
            c.val_bpb, c.val_bpb_key = v, key
            break
    c.val_loss = _number(raw.get("val_loss"))
    if c.val_bpb is None and c.val_loss is not None and c.val_loss < 1.6:
        # One record puts its headline bpb under "val_loss": per-token losses in nats are above ~1.8 for every
        # challenge tokenizer, bits per byte below ~1.6, so a value this small is a bpb in the wrong field.
        c.val_bpb, c.val_bpb_key = c.val_loss, "val_loss"
        c.problems.append(f'the headline bpb {c.val_loss} is stored under "val_loss"; expected "val_bpb"')
        c.val_loss = None
    c.pre_quant_val_bpb = _number(raw.get("pre_quant_val_bpb"))
    for key, attr in (("bytes_total", "bytes_total"), ("bytes_code", "bytes_code"), ("code_bytes", "bytes_code"),
                      ("bytes_model_int8_zlib", "bytes_model"), ("bytes_model_int6_zstd", "bytes_model"),
                      ("bytes_model_compressed", "bytes_model")):
        if key in raw and raw[key] is not None:
            v = _int(raw[key])
            if v is None:
                c.problems.append(f'"{key}" should be an integer number of bytes, found {json.dumps(raw[key])[:40]}')
            elif getattr(c, attr) is None:
                setattr(c, attr, v)
    _read_seeds(c, raw)
    return c


def _read_seeds(c: Claims, raw: dict) -> None:
    per_seed = {}
    for key in ("seed_results", "seeds"):
        block = raw.get(key)
        if isinstance(block, dict):
            for k, v in block.items():
                try:
                    seed = int(str(k).removeprefix("seed").removeprefix("_"))
                except ValueError:
                    c.problems.append(f'"{key}" has a non-numeric seed key {k!r}')
                    continue
                sc = per_seed.setdefault(seed, SeedClaim(seed))
                if isinstance(v, dict):
                    sc.val_bpb = sc.val_bpb if sc.val_bpb is not None else _number(v.get("val_bpb"))
                    sc.val_loss = sc.val_loss if sc.val_loss is not None else _number(v.get("val_loss"))
                    art = v.get("artifact_bytes", v.get("bytes_total"))
                    sc.artifact_bytes = sc.artifact_bytes if sc.artifact_bytes is not None else _int(art)
                elif _number(v) is not None:
                    sc.val_bpb = _number(v)
        elif isinstance(block, list):
            for s in block:
                if _int(s) is None:
                    c.problems.append(f'"{key}" lists a non-integer seed {json.dumps(s)[:20]}')
                else:
                    per_seed.setdefault(int(s), SeedClaim(int(s)))
    scores = raw.get("seed_scores")
    seed_list = raw.get("seeds") if isinstance(raw.get("seeds"), list) else None
    if isinstance(scores, list) and seed_list and len(scores) == len(seed_list):
        for s, v in zip(seed_list, scores):
            if _int(s) is not None and _number(v) is not None:
                per_seed.setdefault(int(s), SeedClaim(int(s))).val_bpb = _number(v)
    c.seeds = per_seed
