"""Reference model against #1493's own script: the same synthetic shards, a fixed number of steps,
looping on from the first step, compile warm-up excluded on both sides; then the artifact size of
pr1552_fixed after the same steps.

    python bench/refmodel_speed.py --record RECORD/train_gpt.py --tokenizer fineweb_8192_bpe.model \\
        [--steps 20] [--out bench/results/refmodel_h100.json]

#1493 imports FlashAttention-3 (``flash_attn_interface``); where it is missing a shim that maps
``flash_attn_func`` to PyTorch SDPA is put on its path, so both sides run SDPA attention.
Needs a CUDA GPU. Results in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHIM = ROOT / "harness" / "repro" / "shims" / "flash_attn_interface.py"  # FA3 -> SDPA


PART_TIMEOUT_S = 270  # one device call holds the whole measurement; a stuck part must not eat it


def _text(exc: subprocess.TimeoutExpired) -> str:
    out = [x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (exc.stdout, exc.stderr)]
    return "".join(out)


def make_data(root: Path, tokenizer: Path, train_tokens: int, val_tokens: int) -> Path:
    from harness.data.shards import write_shard

    data = root / "datasets" / "fineweb10B_sp8192"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_shard(data / "fineweb_train_000000.bin", rng.integers(0, 8192, train_tokens, dtype=np.uint16), vocab_size=8192)
    write_shard(data / "fineweb_val_000000.bin", rng.integers(0, 8192, val_tokens, dtype=np.uint16), vocab_size=8192)
    (root / "tokenizers").mkdir()
    shutil.copy(tokenizer, root / "tokenizers" / "fineweb_8192_bpe.model")
    return data


def run_record(record: Path, data_root: Path, steps: int, warmup: int, work: Path) -> dict:
    shutil.copy(SHIM, work / "flash_attn_interface.py")
    env = {**os.environ, "DATA_DIR": str(data_root) + "/", "ITERATIONS": str(steps), "WARMUP_STEPS": str(warmup),
           "ENABLE_LOOPING_AT": "0", "VAL_LOSS_EVERY": "0", "TRAIN_LOG_EVERY": "1", "GPTQ_CALIBRATION_BATCHES": "2",
           "SLIDING_WINDOW_ENABLED": "0", "TTT_ENABLED": "0", "QK_GAIN_INIT": "5.25", "RUN_ID": "bench",
           "PYTHONPATH": str(work) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(record)], cwd=work, env=env, capture_output=True, text=True,
                              timeout=PART_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        return {"error": f"over {PART_TIMEOUT_S} s", "tail": _text(exc)[-3000:]}
    text = proc.stdout + proc.stderr
    (work / "record.out").write_text(text)
    rows = re.findall(r"^(\d+)/\d+ train_loss: ([\d.]+) train_time: ([\d.]+)m tok/s: (\d+)", text, re.M)
    peak = re.search(r"peak memory allocated: (\d+) MiB", text)
    if proc.returncode != 0 or not rows:
        return {"error": f"exit {proc.returncode}", "tail": text[-3000:]}
    last = rows[-1]
    return {"steps": int(last[0]), "tokens_per_s": int(last[3]), "train_min": float(last[2]),
            "step_ms": float(last[2]) * 60_000 / int(last[0]), "peak_mib": int(peak.group(1)) if peak else None,
            "wall_s": round(time.perf_counter() - t0, 1)}


def run_ours(preset: str, data: Path, tokenizer: Path, steps: int, warmup: int, work: Path, extra=()) -> dict:
    out = work / f"ours_{preset}"
    sets = [f"train.iterations={steps}", f"train.warmup_steps={warmup}", "train.compile=1", "recur.enable_at=0",
            "train.log_every=1", "quant.calibration_batches=2", "eval.ttt=0", *extra]
    cmd = [sys.executable, "-m", "reference_model.train", "--preset", preset, "--data", str(data), "--tokenizer",
           str(tokenizer), "--out", str(out), "--seeds", "1337"]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=PART_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        return {"error": f"over {PART_TIMEOUT_S} s", "tail": _text(exc)[-3000:]}
    text = proc.stdout + proc.stderr
    (work / f"ours_{preset}.out").write_text(text)
    last = re.findall(r"^step:(\d+)/\d+ train_loss:[\d.]+ train_time:(\d+)ms step_avg:([\d.]+)ms", text, re.M)
    tps = re.search(r"peak memory allocated: (\d+) MiB; tokens/s: (\d+)", text)
    model = re.search(r"^Serialized model \S+: (\d+) bytes", text, re.M)
    total = re.search(r"^Total submission size \S+: (\d+) bytes", text, re.M)
    if proc.returncode != 0 or not last:
        return {"error": f"exit {proc.returncode}", "tail": text[-3000:]}
    return {"steps": int(last[-1][0]), "step_ms": float(last[-1][2]), "tokens_per_s": int(tps.group(2)) if tps else None,
            "peak_mib": int(tps.group(1)) if tps else None, "model_bytes": int(model.group(1)) if model else None,
            "total_bytes": int(total.group(1)) if total else None, "wall_s": round(time.perf_counter() - t0, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--record", required=True, type=Path, help="#1493's train_gpt.py (the lzma wrapper is fine)")
    ap.add_argument("--tokenizer", required=True, type=Path, help="fineweb_8192_bpe.model")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--parts", default="record,pr1493,pr1552_fixed",
                    help="which runs: record (#1493's script), pr1493, pr1552_fixed (ours)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "refmodel.json")
    args = ap.parse_args()
    args.record, args.tokenizer, args.out = args.record.resolve(), args.tokenizer.resolve(), args.out.resolve()
    import torch

    if not torch.cuda.is_available():
        print("refmodel_speed: needs a CUDA GPU", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pg-refbench-"))
    batch = 786_432
    data = make_data(work / "data", args.tokenizer, train_tokens=batch * (args.steps + 4 * args.warmup + 8) + 1,
                     val_tokens=32 * 2048 + 1)
    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "steps": args.steps,
              "batch_tokens": batch, "note": "1 GPU, grad_accum 8 (the 8-GPU batch), looping on from step 0, SDPA "
              "attention on both sides (FlashAttention-3 shim for #1493)"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for part in args.parts.split(","):  # the JSON is rewritten after every part, so a cut-off run keeps what finished
        if part == "record":
            result["record_1493"] = run_record(args.record, work / "data", args.steps, args.warmup, work)
        else:
            result[f"ours_{part}"] = run_ours(part, data, args.tokenizer, args.steps, args.warmup, work)
        args.out.write_text(json.dumps(result, indent=2))
        print(json.dumps({part: result.get(f"ours_{part}", result.get("record_1493"))}), flush=True)
    r, o = result["record_1493"], result["ours_pr1493"]
    if "tokens_per_s" in r and o.get("tokens_per_s"):
        result["speed_ratio_ours_over_record"] = round(o["tokens_per_s"] / r["tokens_per_s"], 3)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
