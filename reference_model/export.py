"""The artifact: quantized tensors and the model configuration, serialized, byte-shuffled and compressed.

Layout: b"PGRM" + version byte + codec byte + compressed(byte_shuffle(torch.save(container))).
Byte shuffling (stride 2) puts the high and low bytes of 16-bit values in separate runs, which
compresses better. Size accounting is model blob + the bundled code, checked against the cap.
"""

from __future__ import annotations

import io
import json
import lzma
import struct
import zlib

import torch

MAGIC = b"PGRM"
VERSION = 1
CODECS = {"brotli": 1, "lzma": 2, "zlib": 3}


def byte_shuffle(data: bytes, stride: int = 2) -> bytes:
    pad = (-len(data)) % stride
    body = data + b"\0" * pad
    return struct.pack("<QB", len(data), stride) + b"".join(body[i::stride] for i in range(stride))


def byte_unshuffle(data: bytes) -> bytes:
    n, stride = struct.unpack("<QB", data[:9])
    body = data[9:]
    size = len(body) // stride
    parts = [body[i * size : (i + 1) * size] for i in range(stride)]
    out = bytearray(len(body))
    for i, part in enumerate(parts):
        out[i::stride] = part
    return bytes(out[:n])


def _compress(data: bytes, codec: str) -> bytes:
    if codec == "brotli":
        import brotli

        return brotli.compress(data, quality=11)
    if codec == "lzma":
        return lzma.compress(data, preset=6)
    if codec == "zlib":
        return zlib.compress(data, 9)
    raise ValueError(f"unknown codec {codec!r}")


def _decompress(data: bytes, codec_id: int) -> bytes:
    if codec_id == 1:
        import brotli

        return brotli.decompress(data)
    if codec_id == 2:
        return lzma.decompress(data)
    if codec_id == 3:
        return zlib.decompress(data)
    raise ValueError(f"unknown codec id {codec_id}")


def serialize(qstate: dict, meta: dict, codec: str) -> bytes:
    buf = io.BytesIO()
    torch.save({"meta": json.dumps(meta, sort_keys=True), "tensors": qstate}, buf)
    return MAGIC + bytes([VERSION, CODECS[codec]]) + _compress(byte_shuffle(buf.getvalue()), codec)


def deserialize(blob: bytes) -> tuple[dict, dict]:
    if blob[:4] != MAGIC or blob[4] != VERSION:
        raise ValueError("not a reference-model artifact (bad magic or version)")
    raw = byte_unshuffle(_decompress(blob[6:], blob[5]))
    container = torch.load(io.BytesIO(raw), weights_only=True)
    return container["tensors"], json.loads(container["meta"])
