"""Own fixtures for the audit: synthetic records-style folders and logs in the challenge's formats."""

from __future__ import annotations

import json
from pathlib import Path


def run_log(
    *,
    seed: int = 1337,
    bpb: float = 1.2,
    loss: float | None = None,
    label: str = "final_int8_zlib_roundtrip",
    model_bytes: int = 15_000_000,
    code_bytes: int | None = 50_000,
    train_ms: int = 590_000,
    steps: int = 5000,
    eval_ms: int = 70_000,
    pre_quant_bpb: float | None = None,
    extra_lines: tuple[str, ...] = (),
    tail_lines: tuple[str, ...] = (),
    timestamp: bool = False,
) -> str:
    loss = loss if loss is not None else bpb * 1.69
    step_avg = train_ms / steps
    lines = [
        "# the script logs its own source first; none of this may match:",
        '    log0(f"final_int8_zlib_roundtrip val_loss:{q_val_loss:.4f} val_bpb:{q_val_bpb:.4f} eval_time:{ms}ms")',
        "    seed = int(os.environ.get('SEED', 1337))",
        f"seed:{seed}",
        *extra_lines,
    ]
    for s in (1, steps // 2, steps):
        lines.append(f"step:{s}/20000 train_loss:{3.0 - s / steps:.4f} train_time:{int(train_ms * s / steps)}ms step_avg:{step_avg:.2f}ms")
    lines.append(f"step:{steps}/20000 val_loss:{loss + 0.05:.4f} val_bpb:{(pre_quant_bpb or bpb + 0.03):.4f} train_time:{train_ms}ms step_avg:{step_avg:.2f}ms")
    lines.append(f"stopping_early: wallclock_cap train_time:{train_ms}ms step:{steps}/20000")
    if pre_quant_bpb is not None:
        lines.append(f"pre-quantization post-ema val_loss:{loss + 0.03:.8f} val_bpb:{pre_quant_bpb:.8f} eval_time:5000ms")
    lines.append(f"Serialized model int8+zlib: {model_bytes} bytes (payload:1 raw_torch:2 payload_ratio:3.9x)")
    if code_bytes is not None:
        lines.append(f"Code size: {code_bytes} bytes")
        lines.append(f"Total submission size int8+zlib: {model_bytes + code_bytes} bytes")
    lines.append(f"{label} val_loss:{loss:.4f} val_bpb:{bpb:.4f} eval_time:{eval_ms}ms")
    lines.append(f"{label}_exact val_loss:{loss:.8f} val_bpb:{bpb:.8f}")
    lines.extend(tail_lines)
    if timestamp:
        lines = [f"1712345678.{i:03d} {ln}" for i, ln in enumerate(lines)]
    return "\n".join(lines) + "\n"


def make_submission(
    root: Path,
    *,
    claims: dict | str | None = None,
    logs: dict[str, str] | None = None,
    script: str | bytes | None = "print('train')\n",
    readme: str | None = "# A submission\n",
    extra: dict[str, str | bytes] | None = None,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if claims is not None:
        (root / "submission.json").write_text(claims if isinstance(claims, str) else json.dumps(claims))
    if readme is not None:
        (root / "README.md").write_text(readme)
    if script is not None:
        data = script if isinstance(script, bytes) else script.encode()
        (root / "train_gpt.py").write_bytes(data)
    for name, text in (logs or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for name, content in (extra or {}).items():
        p = root / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def three_seeds(root: Path, values=(1.20, 1.21, 1.22), *, code: str = "print('train')\n", headline=None, **log_kw) -> Path:
    seeds = (1337, 42, 2025)
    logs = {f"train_seed{s}.log": run_log(seed=s, bpb=v, code_bytes=len(code.encode()), **log_kw) for s, v in zip(seeds, values)}
    claims = {"name": "Three seeds", "author": "me", "github_id": "me", "val_bpb": headline if headline is not None else sum(values) / 3,
              "seeds": list(seeds)}
    return make_submission(root, claims=claims, logs=logs, script=code)
