"""The challenge's `.bin` token shards and CaseOps byte sidecars.

Layout (``data/download_hf_docs_and_tokenize.py`` in openai/parameter-golf): a header of 256
little-endian int32 words (word 0 = magic 20240520, word 1 = version 1, word 2 = token count,
the rest zero), then ``count`` little-endian uint16 values. A byte sidecar
(``fineweb_val_bytes_*.bin``) has the same header and holds, per token position, the number of
original UTF-8 bytes that token covers.

Every reader check raises :class:`DataFormatError` naming the file and what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from harness.atomic import atomic_write_bytes
from harness.errors import DataFormatError, MissingDataError

MAGIC = 20240520
VERSION = 1
HEADER_WORDS = 256
HEADER_BYTES = HEADER_WORDS * 4
MAX_TOKENS = 2**31 - 1

# Token shards proper; the CaseOps sidecar `fineweb_val_bytes_000000.bin` also matches the
# challenge's loose glob `fineweb_val_*.bin`, so we name shards by this exact pattern instead.
SHARD_NAME = re.compile(r"^fineweb_(?P<split>train|val)_(?P<index>\d{6})\.bin$")
SIDECAR_NAME = re.compile(r"^fineweb_val_bytes_(?P<index>\d{6})\.bin$")


@dataclass(frozen=True)
class ShardHeader:
    magic: int
    version: int
    num_tokens: int


def shard_name(split: str, index: int) -> str:
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    return f"fineweb_{split}_{index:06d}.bin"


def sidecar_name(index: int) -> str:
    return f"fineweb_val_bytes_{index:06d}.bin"


def encode_shard(values: np.ndarray | Iterable[int], *, vocab_size: int | None = None) -> bytes:
    """Header + uint16 payload, as the challenge's ``write_datafile`` produces."""
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values))
    if arr.ndim != 1:
        raise ValueError(f"a shard holds a 1-D token array, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= 2**16):
        raise ValueError("token ids must be in [0, 65536) to be stored as uint16")
    if vocab_size is not None and arr.size and arr.max() >= vocab_size:
        raise ValueError(f"token id {int(arr.max())} is outside the vocabulary of {vocab_size}")
    if arr.size > MAX_TOKENS:
        raise ValueError(f"{arr.size} tokens do not fit one shard (limit {MAX_TOKENS})")
    header = np.zeros(HEADER_WORDS, dtype="<i4")
    header[0], header[1], header[2] = MAGIC, VERSION, arr.size
    return header.tobytes() + arr.astype("<u2", copy=False).tobytes()


def write_shard(path: str | Path, values: np.ndarray | Iterable[int], *, vocab_size: int | None = None) -> Path:
    return atomic_write_bytes(path, encode_shard(values, vocab_size=vocab_size))


def read_header(path: str | Path) -> ShardHeader:
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(f"no such shard file", path=path)
    size = path.stat().st_size
    if size < HEADER_BYTES:
        raise DataFormatError(
            f"file is {size} bytes, shorter than the {HEADER_BYTES}-byte header (256 int32 words)", path=path
        )
    header = np.fromfile(path, dtype="<i4", count=HEADER_WORDS)
    hdr = ShardHeader(int(header[0]), int(header[1]), int(header[2]))
    if hdr.magic != MAGIC:
        raise DataFormatError(f"header magic is {hdr.magic}, expected {MAGIC}: not a challenge shard", path=path)
    if hdr.version != VERSION:
        raise DataFormatError(f"header version is {hdr.version}, expected {VERSION}", path=path)
    if hdr.num_tokens < 0:
        raise DataFormatError(f"header token count is negative ({hdr.num_tokens})", path=path)
    expected = HEADER_BYTES + 2 * hdr.num_tokens
    if size != expected:
        raise DataFormatError(
            f"file is {size} bytes but the header's token count {hdr.num_tokens} needs "
            f"{expected} bytes (1024 + 2 x count): truncated or padded",
            path=path,
        )
    return hdr


def read_shard(path: str | Path, *, vocab_size: int | None = None, mmap: bool = False) -> np.ndarray:
    """The uint16 values of a shard (or sidecar), after every header and size check.

    ``vocab_size`` rejects token ids outside the vocabulary, naming the first offending position.
    """
    path = Path(path)
    hdr = read_header(path)
    if mmap:
        values = np.memmap(path, dtype="<u2", mode="r", offset=HEADER_BYTES, shape=(hdr.num_tokens,))
    else:
        values = np.fromfile(path, dtype="<u2", count=hdr.num_tokens, offset=HEADER_BYTES)
    if vocab_size is not None and values.size:
        bad = np.flatnonzero(values >= vocab_size)
        if bad.size:
            pos = int(bad[0])
            raise DataFormatError(
                f"token id {int(values[pos])} at position {pos} is outside the vocabulary of {vocab_size} "
                f"({bad.size} such tokens)",
                path=path,
            )
    return values


def list_shards(directory: str | Path, split: str) -> list[Path]:
    """Token shards of one split in a dataset folder, sorted; byte sidecars are never included."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MissingDataError("dataset folder does not exist", path=directory)
    found = []
    for p in directory.iterdir():
        m = SHARD_NAME.match(p.name)
        if m and m.group("split") == split:
            found.append(p)
    return sorted(found)


def list_sidecars(directory: str | Path) -> list[Path]:
    directory = Path(directory)
    return sorted(p for p in directory.iterdir() if SIDECAR_NAME.match(p.name)) if directory.is_dir() else []


def load_split(directory: str | Path, split: str = "val", *, vocab_size: int | None = None) -> np.ndarray:
    """All shards of a split, concatenated in file-name order (as the challenge's loaders do)."""
    shards = list_shards(directory, split)
    if not shards:
        raise MissingDataError(f"no fineweb_{split}_NNNNNN.bin shards", path=directory)
    parts = [read_shard(p, vocab_size=vocab_size) for p in shards]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def load_byte_sidecar(directory: str | Path, num_tokens: int | None = None) -> np.ndarray | None:
    """The concatenated CaseOps byte sidecar of the val split, or None when the folder has none."""
    sidecars = list_sidecars(directory)
    if not sidecars:
        return None
    values = np.concatenate([read_shard(p) for p in sidecars])
    if num_tokens is not None and values.size != num_tokens:
        raise DataFormatError(
            f"byte sidecar holds {values.size} entries but the val shards hold {num_tokens} tokens",
            path=sidecars[0],
        )
    return values


def truncate_for_seq_len(tokens: np.ndarray, seq_len: int) -> np.ndarray:
    """The challenge's ``load_validation_tokens`` truncation: keep ``usable + 1`` tokens, where
    ``usable = ((N - 1) // seq_len) * seq_len`` is the number of scored targets of a flat eval."""
    if seq_len <= 0:
        raise ValueError("seq_len must be positive")
    usable = ((tokens.size - 1) // seq_len) * seq_len
    if usable <= 0:
        raise DataFormatError(f"validation split has {tokens.size} tokens, too short for seq_len {seq_len}")
    return tokens[: usable + 1]
