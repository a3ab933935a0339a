"""Prefix-invariance probe: a causal evaluation cannot let later tokens change earlier scores.

Two streams share their first ``prefix_len`` tokens and differ after them (every non-BOS token
after the prefix is replaced; BOS positions are kept, so document boundaries and batch layouts are
the same). Running a mode on both, the per-target NLL of every target whose inputs and label lie
inside the shared prefix (targets ``j < prefix_len - 1``) must be identical, and so must the NLL of
a fixed probe label (chosen from the target's index, not from the tokens) at every position whose
inputs lie in the prefix (``j <= prefix_len - 1``): that second comparison fingerprints the whole
predicted distribution, so it also catches a model that peeks at its own label. A model that
attends to the future, reads the next token, or an evaluation that trains before it scores,
breaks it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from harness.engine.api import run_mode
from harness.engine.protocol import EvalModel
from harness.engine.stream import EvalStream


@dataclass
class ProbeResult:
    mode: str
    prefix_len: int
    compared_targets: int
    differing_targets: int
    max_abs_diff: float
    first_differing_target: int | None
    atol: float

    @property
    def passed(self) -> bool:
        return self.differing_targets == 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def diverging_copy(stream: EvalStream, prefix_len: int, vocab_size: int, seed: int = 0) -> EvalStream:
    tokens = stream.tokens.clone()
    tail = tokens[prefix_len:]
    keep = tail == stream.bos_id
    g = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, max(vocab_size - 1, 2), tail.shape, generator=g)
    replaced = (tail + shift) % vocab_size
    # never introduce a BOS, and always differ from the original token
    clash = (replaced == stream.bos_id) | (replaced == tail)
    replaced = torch.where(clash, (replaced + 1) % vocab_size, replaced)
    replaced = torch.where(replaced == stream.bos_id, (replaced + 1) % vocab_size, replaced)
    tokens[prefix_len:] = torch.where(keep, tail, replaced)
    return EvalStream(tokens, stream.target_bytes.copy(), bos_id=stream.bos_id, byte_source=stream.byte_source)


def prefix_invariance_probe(
    model: EvalModel,
    mode: str,
    stream: EvalStream,
    *,
    vocab_size: int,
    prefix_len: int | None = None,
    atol: float = 0.0,
    seed: int = 0,
    **settings: Any,
) -> ProbeResult:
    """Run ``mode`` on ``stream`` and on a copy that diverges after ``prefix_len`` tokens.

    The default divergence point is just past the middle and deliberately off any power-of-two
    boundary, so that the last shared target is not the last position of a window (there a
    one-token lookahead would have nothing to look at).
    """
    n = int(stream.tokens.numel())
    prefix_len = prefix_len if prefix_len is not None else n // 2 + 7
    if not 2 <= prefix_len < n:
        raise ValueError(f"prefix_len must be in [2, {n}), got {prefix_len}")
    other = diverging_copy(stream, prefix_len, vocab_size, seed)
    settings = {**settings, "collect_probe": True}
    ra, rb = run_mode(mode, model, stream, **settings), run_mode(mode, model, other, **settings)
    k = prefix_len - 1
    # label NLL for targets whose label is in the prefix; probe-label NLL for positions whose inputs are
    a = np.concatenate([ra.per_token_nll[:k], ra.probe_nll[: k + 1]])
    b = np.concatenate([rb.per_token_nll[:k], rb.probe_nll[: k + 1]])
    both = ~np.isnan(a) & ~np.isnan(b)
    diff = np.where(both, np.abs(a - b), 0.0)
    bad = both & (diff > atol)
    first = None
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        first = pos if pos < k else pos - k
    return ProbeResult(
        mode=mode,
        prefix_len=prefix_len,
        compared_targets=int(both.sum()),
        differing_targets=int(bad.sum()),
        max_abs_diff=float(diff[both].max()) if both.any() else 0.0,
        first_differing_target=first,
        atol=atol,
    )
