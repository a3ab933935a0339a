"""Run every evaluation mode in one rank of a gloo process group and save the results (test helper)."""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist

from harness.engine.api import run_mode
from harness.engine.stream import EvalStream
from tests.engine.tiny_models import TinyLM, random_stream_tokens

V = 64
MODES = {
    "flat": dict(seq_len=32),
    "sliding": dict(seq_len=32, stride=8, batch_windows=5),
    "ttt_sgd": dict(seq_len=32, stride=8, chunk_tokens=64, epochs=2, lr=0.05, batch_seqs=4),
    "ttt_lora": dict(seq_len=24, chunk=8, rank=2, lr=0.05, batch_docs=3),
    "ttt_phased": dict(seq_len=24, chunk=8, rank=2, lr=0.05, prefix_docs=4, num_phases=2, global_seq_len=16,
                       global_chunk_tokens=64, global_batch_seqs=4, global_lr=0.05),
}


def evaluate_all() -> dict:
    torch.manual_seed(0)
    model = TinyLM(vocab=V, seed=21)
    stream = EvalStream.from_tokens(random_stream_tokens(513, V, seed=22, mean_doc=30))
    out = {}
    for mode, cfg in MODES.items():
        r = run_mode(mode, model, stream, **cfg, collect_per_token=True)
        out[mode] = {"val_loss": r.val_loss, "val_bpb": r.val_bpb, "tokens": r.tokens, "bytes": r.bytes,
                     "world_size": r.world_size, "per_token": r.per_token_nll.tolist()}
    return out


def main(rank: int, world: int, init_file: str, out_path: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        result = evaluate_all()
        if rank == 0:
            with open(out_path, "w") as fh:
                json.dump(result, fh)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
