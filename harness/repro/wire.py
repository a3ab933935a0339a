"""Messages between the harness and a sandboxed model server: a JSON header and an optional array.

Frame: 4-byte big-endian header length, the header (UTF-8 JSON), then ``header["nbytes"]`` raw
bytes of a C-contiguous array whose dtype and shape the header gives. Plain pipes, no pickle: the
harness never unpickles anything the untrusted side wrote.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

MAX_HEADER = 1 << 20
DTYPES = {"int64", "int32", "float32", "float64"}


class WireError(RuntimeError):
    """The other side closed the pipe or sent something that is not a frame."""


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 24))
        if not chunk:
            raise WireError(f"pipe closed after {n - left} of {n} bytes")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[: 1 << 24])
        view = view[written:]


def send(fd: int, header: dict, array: np.ndarray | None = None) -> None:
    header = dict(header)
    if array is not None:
        array = np.ascontiguousarray(array)
        if array.dtype.name not in DTYPES:
            raise WireError(f"dtype {array.dtype} cannot be sent; allowed: {sorted(DTYPES)}")
        header.update(dtype=array.dtype.name, shape=list(array.shape), nbytes=int(array.nbytes))
    raw = json.dumps(header).encode()
    _write_all(fd, struct.pack(">I", len(raw)) + raw)
    if array is not None:
        _write_all(fd, array.view(np.uint8).reshape(-1).data if array.size else b"")


def recv(fd: int) -> tuple[dict, np.ndarray | None]:
    (size,) = struct.unpack(">I", _read_exact(fd, 4))
    if size > MAX_HEADER:
        raise WireError(f"header of {size} bytes is over the {MAX_HEADER}-byte limit")
    try:
        header = json.loads(_read_exact(fd, size))
    except json.JSONDecodeError as exc:
        raise WireError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    if "nbytes" not in header:
        return header, None
    dtype, shape, nbytes = header.get("dtype"), header.get("shape"), header.get("nbytes")
    if dtype not in DTYPES or not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise WireError(f"bad array header {header!r}")
    expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if nbytes != expected:
        raise WireError(f"array header says {nbytes} bytes, shape {shape} of {dtype} needs {expected}")
    array = np.frombuffer(_read_exact(fd, nbytes), dtype=dtype).reshape(shape)
    return header, array
