"""A validation stream: the token ids and the bytes of every target, as one object.

``EvalStream.from_dataset`` reads the challenge layout (``fineweb_val_NNNNNN.bin`` shards plus an
optional CaseOps ``fineweb_val_bytes_NNNNNN.bin`` sidecar) and applies the challenge's truncation
to ``usable + 1`` tokens for a given sequence length.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from harness.data.shards import load_byte_sidecar, load_split, truncate_for_seq_len
from harness.engine.bytes import target_bytes_from_sidecar, target_bytes_from_tables, uniform_target_bytes
from harness.errors import DataFormatError
from harness.tokenizer.luts import ByteTables, byte_tables_for


@dataclass
class EvalStream:
    tokens: torch.Tensor  # int64 [N] on CPU
    target_bytes: np.ndarray  # int32 [N - 1]: bytes of target j = tokens[j + 1]
    bos_id: int = 1
    byte_source: str = "tables"
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tokens.dim() != 1:
            raise ValueError("tokens must be 1-D")
        self.tokens = self.tokens.to(torch.int64).cpu()
        if self.target_bytes.shape != (self.num_targets,):
            raise DataFormatError(
                f"byte counts cover {self.target_bytes.size} targets but the stream has {self.num_targets}"
            )

    @property
    def num_targets(self) -> int:
        return int(self.tokens.numel()) - 1

    def bytes_of(self, target_index: np.ndarray) -> int:
        return int(self.target_bytes[target_index].sum(dtype=np.int64))

    def bytes_in(self, lo: int, hi: int) -> int:
        return int(self.target_bytes[lo:hi].sum(dtype=np.int64))

    def sha256(self) -> str:
        return hashlib.sha256(self.tokens.numpy().astype("<u2").tobytes()).hexdigest()

    @classmethod
    def from_tokens(
        cls, tokens, *, tables: ByteTables | None = None, sidecar: np.ndarray | None = None, bos_id: int = 1
    ) -> "EvalStream":
        arr = np.asarray(tokens.cpu().numpy() if isinstance(tokens, torch.Tensor) else tokens)
        if sidecar is not None:
            nbytes, source = target_bytes_from_sidecar(arr, sidecar), "sidecar"
        elif tables is not None:
            nbytes, source = target_bytes_from_tables(arr, tables), "tables"
        else:
            nbytes, source = uniform_target_bytes(arr.size), "uniform"
        return cls(torch.from_numpy(arr.astype(np.int64)), nbytes, bos_id=bos_id, byte_source=source)

    @classmethod
    def from_dataset(
        cls,
        data_dir: str | Path,
        tokenizer_path: str | Path | None,
        *,
        seq_len: int | None = None,
        vocab_size: int | None = None,
        use_sidecar: bool = True,
    ) -> "EvalStream":
        tokens = load_split(data_dir, "val", vocab_size=vocab_size)
        sidecar = load_byte_sidecar(data_dir, tokens.size) if use_sidecar else None
        if seq_len is not None:
            tokens = truncate_for_seq_len(tokens, seq_len)
            sidecar = None if sidecar is None else sidecar[: tokens.size]
        tables = byte_tables_for(tokenizer_path, vocab_size) if tokenizer_path is not None else None
        stream = cls.from_tokens(tokens, tables=tables, sidecar=sidecar)
        stream.provenance = {"data_dir": str(data_dir), "tokenizer": None if tokenizer_path is None else str(tokenizer_path)}
        return stream
