"""The one byte counter: bytes of every target of a validation stream, computed once.

Target ``j`` of a stream is ``tokens[j + 1]``, predicted from ``tokens[: j + 1]``. Its bytes come
either from the challenge's look-up tables (depending on the previous token ``tokens[j]``) or, for
tokenizers that transform text (CaseOps), from a per-token byte sidecar aligned with the stream:
``bytes(target j) = sidecar[j + 1]``.
"""

from __future__ import annotations

import numpy as np

from harness.errors import DataFormatError
from harness.tokenizer.luts import ByteTables


def target_bytes_from_tables(tokens: np.ndarray, tables: ByteTables) -> np.ndarray:
    tokens = np.asarray(tokens)
    if tokens.size < 2:
        return np.zeros(0, dtype=np.int32)
    if int(tokens.max()) >= tables.size:
        raise DataFormatError(f"token id {int(tokens.max())} is outside the byte tables (size {tables.size})")
    targets = tokens[1:].astype(np.int64)
    previous = tokens[:-1].astype(np.int64)
    return tables.token_bytes(targets, previous).astype(np.int32)


def target_bytes_from_sidecar(tokens: np.ndarray, sidecar: np.ndarray) -> np.ndarray:
    if sidecar.size != np.asarray(tokens).size:
        raise DataFormatError(f"byte sidecar has {sidecar.size} entries for {np.asarray(tokens).size} tokens")
    return np.asarray(sidecar[1:], dtype=np.int32)


def uniform_target_bytes(num_tokens: int, bytes_per_token: int = 1) -> np.ndarray:
    """Byte-level vocabularies (and synthetic tests): every target is ``bytes_per_token`` bytes."""
    return np.full(max(num_tokens - 1, 0), bytes_per_token, dtype=np.int32)
