"""A model served by a sandboxed child, behind the evaluators' protocol.

``RemoteModel.forward_logits`` sends the input ids down one pipe and reads the logits back from the
other: the child runs the untrusted model, the harness computes every loss and byte count itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from harness.errors import HarnessError
from harness.repro import wire
from harness.sandbox import SandboxPolicy, start_sandboxed


class RemoteModelError(HarnessError):
    slug = "remote-model"


class RemoteModel:
    """EvalModel over pipes; use as a context manager so the child is always stopped."""

    device = "cpu"

    def __init__(self, *, workdir: Path, script: str, artifact: str, adapter: str, policy: SandboxPolicy,
                 log_dir: Path, name: str = "serve", compile: str = "auto"):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        argv = [sys.executable, "-m", "harness.repro.child.serve", "--script", script, "--artifact", artifact,
                "--adapter", adapter, "--compile", compile, "--fds", f"{to_child_r},{from_child_w}"]
        try:
            self.proc = start_sandboxed(argv, cwd=workdir, policy=policy, log_dir=log_dir, name=name,
                                        pass_fds=(to_child_r, from_child_w))
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.name = name
        ready = self._recv()
        if not ready.get("ready"):
            self.close()
            raise RemoteModelError(f"the model server did not start: {ready.get('error', ready)}", path=artifact)
        self.info = self._ask({"op": "info"})[0]
        self.vocab_size = int(self.info["vocab_size"])

    def _recv(self) -> dict:
        try:
            header, _ = wire.recv(self._from_child)
        except wire.WireError as exc:
            raise RemoteModelError(self._why_gone(str(exc))) from None
        return header

    def _why_gone(self, what: str) -> str:
        import subprocess

        try:
            result = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill("the model server stopped answering")
            result = self.proc.wait()
        return f"the sandboxed model server stopped ({what}); {result.message}\n{result.tail(8)}"

    def _ask(self, header: dict, array: np.ndarray | None = None) -> tuple[dict, np.ndarray | None]:
        try:
            wire.send(self._to_child, header, array)
            reply, data = wire.recv(self._from_child)
        except (wire.WireError, BrokenPipeError) as exc:
            raise RemoteModelError(self._why_gone(str(exc))) from None
        if not reply.get("ok"):
            raise RemoteModelError(f"model server: {reply.get('error', reply)}")
        return reply, data

    def forward_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        _, logits = self._ask({"op": "logits"}, input_ids.detach().cpu().numpy().astype(np.int64))
        b, t = input_ids.shape
        if logits is None or logits.shape[:2] != (b, t) or logits.ndim != 3:
            raise RemoteModelError(f"model server answered {None if logits is None else logits.shape} for input {b}x{t}")
        return torch.from_numpy(logits.copy())

    def ttt(self, mode: str, stream: dict, settings: dict) -> dict:
        return self._ask({"op": "ttt", "mode": mode, "stream": stream, "settings": settings})[0]

    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    wire.send(self._to_child, {"op": "quit"})
                    wire.recv(self._from_child)
                except (wire.WireError, OSError):
                    pass
            return self.proc.wait(timeout=30)
        finally:
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __enter__(self) -> "RemoteModel":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.close()
        except Exception:
            self.proc.kill("harness exiting")
