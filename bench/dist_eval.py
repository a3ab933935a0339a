"""Distributed evaluation: the same model and tokens on 1, 2, 4 or 8 GPUs must give the same score.

    torchrun --standalone --nproc_per_node=N bench/dist_eval.py --clone PG_CLONE --data-dir DATA --out run_N.json
    python bench/dist_eval.py --clone PG_CLONE --data-dir DATA --out run_plain.json      # no process group
    python bench/dist_eval.py --compare run_plain.json run_N.json                          # rel diff <= 1e-9?

The model is the 2026-03-19 SlidingWindowEval record's GPT (read from a local clone at run time)
with seeded random weights, so every rank builds the same one. Sliding-window and score-first TTT
evaluations run through the harness; rank 0 writes val_loss, val_bpb, token and byte counts and
seconds. With one GPU, ``torchrun --nproc_per_node=1`` runs every NCCL collective on a group of one.
NCCL's NVLink multicast stays off (NCCL_NVLS_ENABLE=0), as the multi-GPU machines here require.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
os.environ.setdefault("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1")

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import pg_records  # noqa: E402
from bench.eval_speed import RECORDS, randomize, tokens_for  # noqa: E402
from harness.engine.api import run_mode  # noqa: E402
from harness.engine.stream import EvalStream  # noqa: E402
from harness.tokenizer.luts import build_byte_tables, load_sentencepiece  # noqa: E402


def compare(a_path: str, b_path: str, rel: float = 1e-9) -> int:
    a, b = json.loads(Path(a_path).read_text()), json.loads(Path(b_path).read_text())
    ok = True
    for mode in a["results"]:
        x, y = a["results"][mode], b["results"][mode]
        d = abs(x["val_loss"] - y["val_loss"]) / abs(x["val_loss"])
        same_counts = x["tokens"] == y["tokens"] and x["bytes"] == y["bytes"]
        good = d <= rel and same_counts
        ok &= good
        print(f"{mode:8s} world {a['world_size']} vs {b['world_size']}: val_loss {x['val_loss']:.12f} vs {y['val_loss']:.12f} "
              f"rel diff {d:.2e}, tokens {x['tokens']}/{y['tokens']} -> {'ok' if good else 'MISMATCH'}; "
              f"seconds {x['seconds']:.2f} vs {y['seconds']:.2f}")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clone")
    ap.add_argument("--data-dir")
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--ttt-chunks", type=int, default=8)
    ap.add_argument("--out")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare)
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    cuda = torch.cuda.is_available() and not args.tiny
    if distributed:
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    if args.tiny:
        os.environ.update({"NUM_LAYERS": "2", "MODEL_DIM": "64", "NUM_HEADS": "4", "NUM_KV_HEADS": "2", "MLP_MULT": "2"})
    L, s, C = (64, 16, 256) if args.tiny else (1024, 64, 32768)
    with tempfile.TemporaryDirectory() as work:
        mod = pg_records.import_record(args.clone, RECORDS["sliding_sp1024"], work, f"rec_dist_{rank}")
        hp = mod.Hyperparameters
        gpt = mod.GPT(vocab_size=hp.vocab_size, num_layers=hp.num_layers, model_dim=hp.model_dim, num_heads=hp.num_heads,
                      num_kv_heads=hp.num_kv_heads, mlp_mult=hp.mlp_mult, tie_embeddings=hp.tie_embeddings,
                      tied_embed_init_std=hp.tied_embed_init_std, logit_softcap=hp.logit_softcap, rope_base=hp.rope_base,
                      qk_gain_init=hp.qk_gain_init).to(device)
    randomize(gpt, seed=0)
    model = pg_records.BaselineFamilyModel(gpt)
    n = min(args.tokens, C * args.ttt_chunks) + 1 if args.tiny else args.tokens
    toks, tok_path = tokens_for(Path(args.data_dir), hp.vocab_size, n)
    toks = toks[: ((toks.size - 1) // L) * L + 1]
    stream = EvalStream.from_tokens(toks, tables=build_byte_tables(load_sentencepiece(tok_path), hp.vocab_size))
    ttt_stream = EvalStream.from_tokens(toks[: C * args.ttt_chunks + 1], tables=build_byte_tables(load_sentencepiece(tok_path), hp.vocab_size))
    amp = torch.bfloat16 if cuda else None
    results = {}
    for mode, st, cfg in [
        ("sliding", stream, dict(seq_len=L, stride=s, batch_windows=64, autocast_dtype=amp)),
        ("ttt_sgd", ttt_stream, dict(seq_len=L, stride=s, chunk_tokens=C, epochs=3, lr=0.005, batch_seqs=32,
                                     batch_windows=64, autocast_dtype=amp, block_prefix="gpt.blocks.")),
    ]:
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        r = run_mode(mode, model, st, **cfg)
        if cuda:
            torch.cuda.synchronize()
        results[mode] = {"val_loss": r.val_loss, "val_bpb": r.val_bpb, "tokens": r.tokens, "bytes": r.bytes,
                         "seconds": time.perf_counter() - t0, "world_size": r.world_size}
    if rank == 0:
        info = {"world_size": world, "process_group": distributed, "backend": dist.get_backend() if distributed else None,
                "device": torch.cuda.get_device_name() if cuda else "cpu", "fa3_shim": pg_records.SHIM_USED, "results": results}
        print(json.dumps(info, indent=2))
        if args.out:
            Path(args.out).write_text(json.dumps(info, indent=2))
    if distributed:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
