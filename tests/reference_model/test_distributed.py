"""Two gloo processes without accumulation train exactly like one process with 2 accumulation steps."""

import os
import socket

import numpy as np
import torch
import torch.multiprocessing as mp

from harness.data.shards import write_shard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(rank: int, world: int, accum: int, data: str, out: str, port: int) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from reference_model.config import apply_overrides, preset
    from reference_model.data import SequenceLoader
    from reference_model.gpt import GPT
    from reference_model.optim import build_optimizers, route_parameters
    from reference_model.train import Run, optimizer_step

    p = apply_overrides(preset("tiny_cpu"), ["train.batch_tokens=1024", "train.seq_len=64"])
    run = Run()
    torch.manual_seed(3)
    model = GPT(p.model)
    model.set_active_passes(3)  # adapters in the graph
    opts = build_optimizers(route_parameters(model, p), p)
    loader = SequenceLoader(data, p.train.seq_len, seed=3)
    for _ in range(2):
        optimizer_step(run, p, model, opts, loader.next_sequences(p.train.batch_tokens // p.train.seq_len), accum)
    if rank == 0:
        torch.save(model.state_dict(), out)
    if world > 1:
        torch.distributed.destroy_process_group()


def test_two_processes_match_one_with_accumulation(tmp_path):
    rng = np.random.default_rng(0)
    write_shard(tmp_path / "fineweb_train_000000.bin", rng.integers(0, 512, 20_000), vocab_size=512)
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    mp.spawn(_train, args=(1, 2, str(tmp_path), str(one), _free_port()), nprocs=1, join=True)
    mp.spawn(_train, args=(2, 1, str(tmp_path), str(two), _free_port()), nprocs=2, join=True)
    a, b = torch.load(one), torch.load(two)
    worst = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert worst < 1e-5, worst
    from reference_model.config import preset
    from reference_model.gpt import GPT

    torch.manual_seed(3)
    init = GPT(preset("tiny_cpu").model).state_dict()
    assert max((a[k].float() - init[k].float()).abs().max().item() for k in a) > 1e-3  # the steps did train
