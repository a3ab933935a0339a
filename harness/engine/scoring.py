"""The one place that says how a target token is scored, and how scores add up to val_bpb.

Every evaluation mode (flat, sliding, score-first TTT) calls :func:`token_nll` on the logits of
the positions it scores and adds the result to a :class:`ScoreSums`. Nothing else computes a loss
that is reported.

Worked example (byte-level vocabulary, so every target is one byte)::

    logits for 2 positions over a 4-token vocabulary, targets [2, 0]
    token_nll = [-log softmax(logits[0])[2], -log softmax(logits[1])[0]]   # nats, >= 0
    sums.add(token_nll, bytes=[1, 1])
    val_loss = loss_sum / token_count                  # mean nats per token
    val_bpb  = loss_sum / (ln 2 * byte_count)          # = val_loss / ln 2 * tokens / bytes

Per-token NLL is computed in float32, or in the logits' own dtype when that is wider (float64
models in the tests), and summed in float64. Aggregation always divides sums; it never averages
per-document, per-batch or per-rank means.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

LN2 = math.log(2.0)


def token_nll(logits: Tensor, targets: Tensor) -> Tensor:
    """Negative log-likelihood (nats) of each target under softmax(logits); shape of ``targets``.

    ``logits``: [..., V] (softcap already applied by the model); ``targets``: [...] int64.
    """
    dtype = torch.promote_types(logits.dtype, torch.float32)
    flat = logits.reshape(-1, logits.shape[-1]).to(dtype)
    return F.cross_entropy(flat, targets.reshape(-1), reduction="none").reshape(targets.shape)


class ScoreSums:
    """Float64 sums of NLL, scored targets and their bytes; reduced across ranks by SUM.

    NLL sums stay on the device until read, so scoring a batch never waits for the GPU; token and
    byte counts are host integers (the evaluator knows them from the window plan).
    """

    __slots__ = ("_loss_sum", "_pending", "token_count", "byte_count")

    def __init__(self, loss_sum: float = 0.0, token_count: int = 0, byte_count: int = 0):
        self._loss_sum = float(loss_sum)
        self._pending: Tensor | None = None
        self.token_count = int(token_count)
        self.byte_count = int(byte_count)

    def add(self, nll: Tensor, num_bytes: int) -> None:
        batch = nll.detach().to(torch.float64).sum()
        self._pending = batch if self._pending is None else self._pending + batch
        self.token_count += int(nll.numel())
        self.byte_count += int(num_bytes)

    @property
    def loss_sum(self) -> float:
        if self._pending is not None:
            self._loss_sum += float(self._pending)
            self._pending = None
        return self._loss_sum

    def reduced(self, dist_ctx) -> "ScoreSums":
        loss, tokens, nbytes = dist_ctx.all_reduce_sum([self.loss_sum, float(self.token_count), float(self.byte_count)])
        return ScoreSums(loss, round(tokens), round(nbytes))

    @property
    def val_loss(self) -> float:
        return self.loss_sum / self.token_count if self.token_count else float("nan")

    @property
    def val_bpb(self) -> float:
        return self.loss_sum / (LN2 * self.byte_count) if self.byte_count else float("nan")


@dataclass
class EvalResult:
    """What an evaluation reports. ``val_loss`` is nats per scored token; ``val_bpb`` bits per byte."""

    mode: str
    mode_version: int
    val_loss: float
    val_bpb: float
    tokens: int
    bytes: int
    loss_sum: float
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    world_size: int = 1
    per_token_nll_path: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    per_token_nll: Any = field(default=None, repr=False, compare=False)  # np.ndarray when collected; not serialized
    probe_nll: Any = field(default=None, repr=False, compare=False)  # NLL of the probe labels (prefix probe only)

    @classmethod
    def from_sums(cls, mode: str, version: int, sums: ScoreSums, seconds: float, **kw: Any) -> "EvalResult":
        return cls(
            mode=mode,
            mode_version=version,
            val_loss=sums.val_loss,
            val_bpb=sums.val_bpb,
            tokens=sums.token_count,
            bytes=sums.byte_count,
            loss_sum=sums.loss_sum,
            seconds=seconds,
            **kw,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("per_token_nll")
        d.pop("probe_nll")
        return d

    def log_line(self) -> str:
        """The challenge's final-metric line shape, e.g. for a reference-model log."""
        return f"{self.mode} val_loss:{self.val_loss:.8f} val_bpb:{self.val_bpb:.8f} eval_time:{self.seconds * 1000:.0f}ms"
