"""Static decoding of self-extracting code: ``exec(lzma.decompress(base64.b85decode(...)))`` and kin.

Nothing is executed. A payload is a bytes or str literal passed (possibly through ``.replace``
calls or a name bound to it) to ``b85decode``/``b64decode``, then to an LZMA (xz or raw LZMA2),
zlib or brotli decompressor. Decoded sizes are capped against decompression bombs.
"""

from __future__ import annotations

import base64
import lzma
import re
import zlib
from dataclasses import dataclass

MAX_DECODED_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class DecodedPayload:
    text: str
    chain: tuple[str, ...]  # e.g. ("base64.b85decode", "lzma FORMAT_RAW LZMA2")
    line: int  # line of the decode call in the outer file (1-based)
    encoded_bytes: int


class PayloadTooLarge(ValueError):
    pass


def _decompress(data: bytes) -> tuple[bytes, str]:
    """Try every decompressor the records use; the first that works wins."""
    attempts = [
        ("lzma FORMAT_RAW LZMA2", lambda b: _capped_lzma(b, lzma.FORMAT_RAW, [{"id": lzma.FILTER_LZMA2}])),
        ("lzma xz", lambda b: _capped_lzma(b, lzma.FORMAT_AUTO, None)),
        ("zlib", _capped_zlib),
    ]
    try:
        import brotli  # noqa: F401

        attempts.append(("brotli", _capped_brotli))
    except ImportError:  # pragma: no cover
        pass
    errors = []
    for name, fn in attempts:
        try:
            return fn(data), name
        except PayloadTooLarge:
            raise
        except Exception as exc:  # each decompressor raises its own error type
            errors.append(f"{name}: {type(exc).__name__}")
    raise ValueError("no decompressor accepts the payload (" + "; ".join(errors) + ")")


def _capped_lzma(data: bytes, fmt, filters) -> bytes:
    d = lzma.LZMADecompressor(format=fmt, filters=filters)
    out = d.decompress(data, max_length=MAX_DECODED_BYTES + 1)
    if len(out) > MAX_DECODED_BYTES:
        raise PayloadTooLarge(f"decoded payload exceeds {MAX_DECODED_BYTES} bytes")
    return out


def _capped_zlib(data: bytes) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, MAX_DECODED_BYTES + 1)
    if len(out) > MAX_DECODED_BYTES:
        raise PayloadTooLarge(f"decoded payload exceeds {MAX_DECODED_BYTES} bytes")
    return out


def _capped_brotli(data: bytes) -> bytes:
    import brotli

    dec = brotli.Decompressor()
    out = dec.process(data)  # brotli has no output cap; guard on the ratio instead
    if len(out) > MAX_DECODED_BYTES:
        raise PayloadTooLarge(f"decoded payload exceeds {MAX_DECODED_BYTES} bytes")
    return out


def _decode_text(data: bytes | str, enc: str) -> bytes:
    if isinstance(data, str):
        data = data.encode("ascii", "ignore")
    data = re.sub(rb"\s+", b"", data)
    if enc.endswith("b85decode"):
        return base64.b85decode(data)
    if enc.endswith("a85decode"):
        return base64.a85decode(data)
    return base64.b64decode(data)


DECODERS = ("b85decode", "b64decode", "a85decode")


def _literal_value(node, bindings: dict):
    """Static value of a str/bytes literal, an implicit concatenation, a name bound to one, or a
    ``.replace(lit, lit)`` / ``.encode()`` chain on those; None when it is anything else."""
    import libcst as cst

    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        try:
            return node.evaluated_value
        except Exception:
            return None
    if isinstance(node, cst.Name):
        return bindings.get(node.value)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        base = _literal_value(node.func.value, bindings)
        if base is None:
            return None
        args = [_literal_value(a.value, bindings) for a in node.args]
        if node.func.attr.value == "replace" and len(args) == 2 and all(a is not None for a in args):
            try:
                return base.replace(args[0], args[1])
            except TypeError:
                return None
        if node.func.attr.value in ("encode", "strip"):
            return base.encode() if node.func.attr.value == "encode" and isinstance(base, str) else base
    return None


def _try_decode(value, name: str, line: int, found: list, errors: list) -> None:
    if value is None or len(value) < 64:  # not a literal payload (a helper's own decode call)
        return
    try:
        data, how = _decompress(_decode_text(value, name))
        if not data.strip():
            raise ValueError("it decompresses to nothing")
        text = data.decode("utf-8-sig")
    except PayloadTooLarge as exc:
        errors.append((line, str(exc)))
        return
    except Exception as exc:
        errors.append((line, f"{name} payload could not be decoded: {exc}"))
        return
    found.append(DecodedPayload(text, (f"base64.{name}", how), line, len(value)))


def _ast_value(node, bindings: dict):
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return node.value
    if isinstance(node, ast.Name):
        return bindings.get(node.id)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        base = _ast_value(node.func.value, bindings)
        if base is None:
            return None
        args = [_ast_value(a, bindings) for a in node.args]
        if node.func.attr == "replace" and len(args) == 2 and all(a is not None for a in args):
            try:
                return base.replace(args[0], args[1])
            except TypeError:
                return None
        if node.func.attr == "encode" and isinstance(base, str):
            return base.encode()
        if node.func.attr == "strip":
            return base
    return None


def _scan_ast(source: str) -> tuple[list[DecodedPayload], list[tuple[int, str]]] | None:
    """The fast path (stdlib ast); None when this Python cannot parse the file (e.g. PEP 701 on 3.11)."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    found: list[DecodedPayload] = []
    errors: list[tuple[int, str]] = []
    bindings: dict = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            value = _ast_value(node.value, bindings)
            if value is not None:
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        bindings[t.id] = value
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in DECODERS and node.args:
            _try_decode(_ast_value(node.args[0], bindings), name, node.lineno, found, errors)
    return found, errors


def _scan(source: str) -> tuple[list[DecodedPayload], list[tuple[int, str]]]:
    if not any(d in source for d in DECODERS):
        return [], []
    fast = _scan_ast(source)
    if fast is not None:
        return fast
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    try:
        module = cst.parse_module(source)
    except Exception:
        return [], []
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    found: list[DecodedPayload] = []
    errors: list[tuple[int, str]] = []

    class Visitor(cst.CSTVisitor):
        METADATA_DEPENDENCIES = (PositionProvider,)

        def __init__(self):
            self.bindings: dict = {}

        def visit_Assign(self, node: cst.Assign) -> None:
            value = _literal_value(node.value, self.bindings)
            if value is not None:
                for t in node.targets:
                    if isinstance(t.target, cst.Name):
                        self.bindings[t.target.value] = value

        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
            if name not in DECODERS or not node.args:
                return
            value = _literal_value(node.args[0].value, self.bindings)
            _try_decode(value, name, self.get_metadata(PositionProvider, node).start.line, found, errors)

    wrapper.visit(Visitor())
    return found, errors


def decode_payloads(source: str) -> list[DecodedPayload]:
    """Every decodable payload in ``source``, in order of appearance."""
    found, _ = _scan(source)
    return found


def undecodable_payloads(source: str) -> list[tuple[int, str]]:
    """(line, reason) for literal payloads that look like programs but do not decode."""
    _, errors = _scan(source)
    return errors
