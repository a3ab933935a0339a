"""Training batches from challenge shards, and the validation stream with its byte counts.

The training order is global (a permutation of all shards' sequences seeded by the run seed) and
each optimizer step takes the next ``batch_tokens / seq_len`` sequences, split into
world x accumulation micro-batches. So the gradient of a step does not depend on how many
processes share it: 2 processes with no accumulation see exactly what 1 process with 2
accumulation steps sees (a test checks this).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from harness.data.shards import list_shards, read_shard


class SequenceLoader:
    def __init__(self, data_dir: str | Path, seq_len: int, seed: int = 0):
        self.paths = list_shards(data_dir, "train")
        if not self.paths:
            from harness.errors import MissingDataError

            raise MissingDataError("no fineweb_train_*.bin shards", path=data_dir)
        self.shards = [read_shard(p, mmap=True) for p in self.paths]
        self.seq_len = seq_len
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.epoch = 0
        self._order: np.ndarray = np.zeros((0, 2), dtype=np.int64)
        self._pos = 0

    def _refill(self) -> None:
        pairs = []
        for i, tokens in enumerate(self.shards):
            phase = int(self.rng.integers(0, self.seq_len)) if tokens.size > 2 * self.seq_len + 1 else 0
            n = (tokens.size - phase - 1) // self.seq_len
            starts = phase + np.arange(n, dtype=np.int64) * self.seq_len
            pairs.append(np.stack([np.full(n, i, dtype=np.int64), starts], axis=1))
        order = np.concatenate(pairs)
        if order.size == 0:
            raise ValueError(f"training shards hold fewer than {self.seq_len + 1} tokens")
        self._order = order[self.rng.permutation(len(order))]
        self._pos = 0
        self.epoch += 1

    def next_sequences(self, n: int) -> torch.Tensor:
        """[n, seq_len + 1] int64: the next n sequences of the global order."""
        rows = []
        while len(rows) < n:
            if self._pos >= len(self._order):
                self._refill()
            shard, start = self._order[self._pos]
            self._pos += 1
            rows.append(np.asarray(self.shards[shard][start : start + self.seq_len + 1], dtype=np.int64))
        return torch.from_numpy(np.stack(rows))


def micro_batches(global_batch: torch.Tensor, world: int, rank: int, accum: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """This rank's ``accum`` micro-batches (x, y) of a global batch of sequences."""
    n = global_batch.size(0)
    per = n // (world * accum)
    if per == 0:
        raise ValueError(f"{n} sequences per step cannot be split over {world} rank(s) x {accum} accumulation step(s)")
    out = []
    for a in range(accum):
        m = a * world + rank
        seqs = global_batch[m * per : (m + 1) * per]
        out.append((seqs[:, :-1], seqs[:, 1:]))
    return out


def find_tokenizer(data_dir: str | Path, vocab_size: int) -> Path | None:
    """The SentencePiece model next to the shards (DIR/*.model) or in the challenge layout
    (DIR/../../tokenizers/*.model) whose vocabulary matches."""
    from harness.tokenizer.luts import load_sentencepiece

    data_dir = Path(data_dir)
    candidates = sorted(data_dir.glob("*.model")) + sorted((data_dir.parent.parent / "tokenizers").glob("*.model"))
    for c in candidates:
        try:
            if int(load_sentencepiece(c).vocab_size()) == vocab_size:
                return c
        except Exception:
            continue
    return None
