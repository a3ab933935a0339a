"""Serve a submission's model to the harness over two pipes (``harness.repro.wire`` frames).

    python -m harness.repro.child.serve --script train_gpt.py --artifact final_model.int8.ptz \\
        --fds READ,WRITE [--adapter auto|reference|baseline|module:function]

Requests: ``info``; ``logits`` with an int64 [B, T] array (answered with float32 [B, T, V]);
``ttt`` with evaluator settings (score-first TTT needs the parameters, so it runs here, through the
harness's own evaluator); ``quit``. The loss and the bytes of flat and sliding scores are computed by
the harness in its own process from the logits sent back.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
from pathlib import Path

import numpy as np
import torch

from harness.repro import wire
from harness.repro.child import adapters
from harness.repro.child.load import import_script


def _autocast(device: torch.device):
    # the challenge's scripts evaluate under bf16 autocast on GPU; the re-score does the same
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def handle(adapted: adapters.Adapted, device: torch.device, header: dict, array, out_fd: int) -> bool:
    op = header.get("op")
    if op == "info":
        n_params = sum(p.numel() for p in adapted.model.parameters())
        forward = getattr(adapted.scoring, "note", "eager")
        wire.send(out_fd, {"ok": True, "vocab_size": adapted.vocab_size, "seq_len": adapted.seq_len,
                           "stride": adapted.stride, "device": str(device), "parameters": n_params,
                           "settings": {**adapted.settings, "forward": forward}})
    elif op == "logits":
        ids = torch.from_numpy(np.array(array, dtype=np.int64)).to(device)
        with torch.no_grad(), _autocast(device):
            logits = adapted.scoring.forward_logits(ids)
        wire.send(out_fd, {"ok": True}, logits.float().cpu().numpy())
    elif op == "ttt":
        from harness.engine.api import run_mode
        from harness.engine.stream import EvalStream

        s = header["stream"]
        stream = EvalStream.from_dataset(s["data_dir"], s["tokenizer"], seq_len=s["seq_len"], vocab_size=adapted.vocab_size)
        settings = dict(header["settings"])
        if device.type == "cuda":
            settings["autocast_dtype"] = torch.bfloat16
        result = run_mode(header.get("mode", "ttt_sgd"), adapted.model, stream, **settings)
        wire.send(out_fd, {"ok": True, "val_loss": result.val_loss, "val_bpb": result.val_bpb,
                           "seconds": result.seconds, "tokens": result.tokens, "bytes": result.bytes})
    elif op == "quit":
        wire.send(out_fd, {"ok": True})
        return False
    else:
        wire.send(out_fd, {"ok": False, "error": f"unknown op {op!r}"})
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="harness.repro.child.serve")
    ap.add_argument("--script", required=True)
    ap.add_argument("--artifact", required=True)
    ap.add_argument("--adapter", default="auto")
    ap.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                    help="torch.compile the logits forward (auto: on GPU, as the scripts' own evaluation)")
    ap.add_argument("--fds", required=True, help="READ,WRITE file descriptors of the request and reply pipes")
    args = ap.parse_args(argv)
    in_fd, out_fd = (int(x) for x in args.fds.split(","))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        module = import_script(args.script)
        adapted = adapters.load(args.adapter, module, Path(args.artifact), device)
        if args.compile == "on" or (args.compile == "auto" and device.type == "cuda"):
            adapted.scoring = adapters.Compiled(adapted.model)
    except Exception as exc:
        traceback.print_exc()
        wire.send(out_fd, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    wire.send(out_fd, {"ok": True, "ready": True})
    while True:
        try:
            header, array = wire.recv(in_fd)
        except wire.WireError:
            return 0  # the harness went away
        try:
            if not handle(adapted, device, header, array, out_fd):
                return 0
        except Exception as exc:
            traceback.print_exc()
            wire.send(out_fd, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    sys.exit(main())
