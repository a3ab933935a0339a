"""The challenge's byte look-up tables (``build_sentencepiece_luts`` in the baseline script).

For a target token ``t`` whose previous token (the input at the same position) is ``p``::

    bytes(t) = base_bytes[t] + (has_leading_space[t] and not is_boundary[p])

Control, unknown and unused pieces are boundary tokens with 0 bytes; byte-fallback pieces
``<0xNN>`` count 1 byte; any other piece counts the UTF-8 length of its text without a leading
"▁", and the "▁" counts one byte except right after a boundary token (document start).
Ids at or above the tokenizer's vocabulary but below the model's ``vocab_size`` are boundary
tokens with 0 bytes, as in the challenge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import DataFormatError, MissingDataError

SPACE_MARK = "\u2581"  # SentencePiece's "▁"


@dataclass(frozen=True)
class ByteTables:
    base_bytes: np.ndarray  # int16 [table_size]
    has_leading_space: np.ndarray  # bool [table_size]
    is_boundary: np.ndarray  # bool [table_size]
    space_piece_id: int | None  # id of the standalone "▁" piece, None when the tokenizer has none (issue #897)
    byte_fallback: bool  # whether the tokenizer has <0xNN> pieces

    @property
    def size(self) -> int:
        return int(self.base_bytes.size)

    def token_bytes(self, targets: np.ndarray, previous: np.ndarray) -> np.ndarray:
        """Bytes of each target given its previous token (numpy; int64)."""
        base = self.base_bytes[targets].astype(np.int64)
        lead = self.has_leading_space[targets] & ~self.is_boundary[previous]
        return base + lead.astype(np.int64)


def load_sentencepiece(path: str | Path):
    import sentencepiece as spm

    path = Path(path)
    if not path.is_file():
        raise MissingDataError("tokenizer model file not found", path=path)
    try:
        return spm.SentencePieceProcessor(model_file=str(path))
    except Exception as exc:  # sentencepiece raises plain RuntimeError/OSError
        raise DataFormatError(f"not a SentencePiece model: {exc}", path=path) from exc


def build_byte_tables(sp, vocab_size: int | None = None) -> ByteTables:
    """Tables for a loaded SentencePieceProcessor, sized ``max(sp.vocab_size(), vocab_size)``."""
    sp_vocab = int(sp.vocab_size())
    table_size = max(sp_vocab, vocab_size or 0)
    base_bytes = np.zeros(table_size, dtype=np.int16)
    has_leading_space = np.zeros(table_size, dtype=np.bool_)
    is_boundary = np.ones(table_size, dtype=np.bool_)
    byte_fallback = False
    for token_id in range(sp_vocab):
        if sp.is_control(token_id) or sp.is_unknown(token_id) or sp.is_unused(token_id):
            continue
        is_boundary[token_id] = False
        if sp.is_byte(token_id):
            base_bytes[token_id] = 1
            byte_fallback = True
            continue
        piece = sp.id_to_piece(token_id)
        if piece.startswith(SPACE_MARK):
            has_leading_space[token_id] = True
            piece = piece[1:]
        base_bytes[token_id] = len(piece.encode("utf-8"))
    space_id = sp.piece_to_id(SPACE_MARK)
    space_piece_id = None if space_id == sp.unk_id() else int(space_id)
    return ByteTables(base_bytes, has_leading_space, is_boundary, space_piece_id, byte_fallback)


def byte_tables_for(tokenizer_path: str | Path, vocab_size: int | None = None) -> ByteTables:
    return build_byte_tables(load_sentencepiece(tokenizer_path), vocab_size)
