"""Two gloo processes without accumulation train exactly like one process with 2 accumulation steps."""

import os
import socket

import numpy as np
import pytest
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


def _main(rank: int, world: int, args: list, port: int) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from reference_model.train import main

    main(args)


def test_two_process_run_scores_the_artifact_it_writes(tmp_path):
    """Each rank calibrates GPTQ on its own micro-batches; the logged score must be that of the one
    artifact written (rank 0's), not of each rank's own quantization."""
    import re

    from harness.data.synth import build_synthetic_dataset
    from harness.engine.api import run_mode
    from harness.engine.stream import EvalStream
    from reference_model.train import load_artifact

    data = build_synthetic_dataset(tmp_path / "synth", n_docs=300, val_docs=10)
    out = tmp_path / "sub"
    args = ["--preset", "tiny_cpu", "--data", data["data_dir"], "--tokenizer", data["tokenizer"], "--out", str(out),
            "--seeds", "5", "--set", "train.iterations=4", "--set", "eval.ttt=0", "--set", "eval.stride=64",
            "--set", "quant.calibration_batches=2"]
    mp.spawn(_main, args=(2, args, _free_port()), nprocs=2, join=True)
    log = (out / "train_seed5.log").read_text()
    logged = float(re.search(r"_roundtrip_exact val_loss:[\d.]+ val_bpb:([\d.]+)$", log, re.M).group(1))
    model = load_artifact((out / "final_model_seed5.ptz").read_bytes(), torch.device("cpu"))
    stream = EvalStream.from_dataset(data["data_dir"], data["tokenizer"], seq_len=128, vocab_size=512)
    assert run_mode("flat", model, stream, seq_len=128).val_bpb == pytest.approx(logged, abs=1e-7)
