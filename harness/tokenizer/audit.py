"""Exact audit of the byte tables: for each document, the bytes the tables count against the
UTF-8 length of the tokenizer-normalized text.

BPB divides by bytes, so a table that undercounts deflates the score. The audit reports, per
document and in total: tokens, table bytes, normalized-text bytes (SentencePiece's own
normalization, "▁" read as one space byte), raw-text bytes, unknown pieces and the bytes they
hide. Where a tokenizer transforms text (CaseOps), a per-token byte sidecar is the byte source
and is checked against the raw text instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from harness.tokenizer.luts import SPACE_MARK, ByteTables, build_byte_tables, load_sentencepiece


@dataclass
class DocumentAudit:
    index: int
    tokens: int
    table_bytes: int
    normalized_bytes: int
    raw_bytes: int
    unknown_pieces: int
    unknown_bytes: int  # normalized bytes of the text the unknown pieces cover
    spaces_after_unknown: int  # "▁" right after an <unk>: uncounted because <unk> is a boundary token
    byte_source: str  # "tables" or "sidecar"

    @property
    def reference_bytes(self) -> int:
        """What the byte source must match: normalized text for tables, raw text for a sidecar."""
        return self.raw_bytes if self.byte_source == "sidecar" else self.normalized_bytes

    @property
    def counted_bytes(self) -> int:
        return self.table_bytes

    @property
    def shortfall(self) -> int:
        return self.reference_bytes - self.counted_bytes


@dataclass
class TokenizerAudit:
    tokenizer: str
    vocab_size: int
    byte_source: str
    byte_fallback: bool
    space_piece_id: int | None
    documents: int = 0
    tokens: int = 0
    table_bytes: int = 0
    normalized_bytes: int = 0
    raw_bytes: int = 0
    mismatched_documents: int = 0
    shortfall_bytes: int = 0  # sum over documents of (reference - counted); positive = undercount
    unknown_pieces: int = 0
    unknown_bytes: int = 0
    spaces_after_unknown: int = 0
    mismatches: list[dict] = field(default_factory=list)  # first few mismatching documents
    causes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.mismatched_documents == 0 and self.space_piece_id is not None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def _normalized_bytes(sp, text: str) -> int:
    return len(sp.normalize(text).replace(SPACE_MARK, " ").encode("utf-8"))


def audit_document(sp, tables: ByteTables, text: str, index: int, sidecar: np.ndarray | None = None) -> DocumentAudit:
    mapping = sp.encode_as_offset_mapping(text)
    ids = np.asarray(mapping["ids"], dtype=np.int64)
    previous = np.concatenate([[sp.bos_id()], ids[:-1]]).astype(np.int64)
    if sidecar is not None:
        if sidecar.size != ids.size:
            raise ValueError(f"document {index}: sidecar has {sidecar.size} entries for {ids.size} tokens")
        counted = int(sidecar.astype(np.int64).sum())
    else:
        counted = int(tables.token_bytes(ids, previous).sum()) if ids.size else 0
    unk = sp.unk_id()
    unknown_bytes = 0
    unknown = 0
    for token_id, piece in zip(mapping["ids"], mapping["pieces"]):
        if token_id == unk:  # the piece string of an <unk> is the normalized text it stands for
            unknown += 1
            unknown_bytes += len(piece.replace(SPACE_MARK, " ").encode("utf-8"))
    spaces_after_unknown = int(np.count_nonzero((previous == unk) & tables.has_leading_space[ids])) if ids.size else 0
    return DocumentAudit(
        index=index,
        tokens=int(ids.size),
        table_bytes=counted,
        normalized_bytes=_normalized_bytes(sp, text),
        raw_bytes=len(text.encode("utf-8")),
        unknown_pieces=unknown,
        unknown_bytes=unknown_bytes,
        spaces_after_unknown=spaces_after_unknown,
        byte_source="sidecar" if sidecar is not None else "tables",
    )


def audit_tokenizer(
    tokenizer_path: str | Path,
    documents: Iterable[str],
    *,
    sidecars: Sequence[np.ndarray] | None = None,
    keep_mismatches: int = 20,
    progress: bool = False,
) -> TokenizerAudit:
    """Audit the byte tables (or per-document sidecar arrays) of a tokenizer on documents."""
    sp = load_sentencepiece(tokenizer_path)
    tables = build_byte_tables(sp)
    result = TokenizerAudit(
        tokenizer=Path(tokenizer_path).name,
        vocab_size=int(sp.vocab_size()),
        byte_source="sidecar" if sidecars is not None else "tables",
        byte_fallback=tables.byte_fallback,
        space_piece_id=tables.space_piece_id,
    )
    docs: Iterable[str] = documents
    if progress:
        from tqdm import tqdm

        docs = tqdm(documents, desc="audit", unit="doc", leave=False)
    for i, text in enumerate(docs):
        doc = audit_document(sp, tables, text, i, None if sidecars is None else sidecars[i])
        result.documents += 1
        result.tokens += doc.tokens
        result.table_bytes += doc.table_bytes
        result.normalized_bytes += doc.normalized_bytes
        result.raw_bytes += doc.raw_bytes
        result.unknown_pieces += doc.unknown_pieces
        result.unknown_bytes += doc.unknown_bytes
        result.spaces_after_unknown += doc.spaces_after_unknown
        if doc.shortfall != 0:
            result.mismatched_documents += 1
            result.shortfall_bytes += doc.shortfall
            if len(result.mismatches) < keep_mismatches:
                result.mismatches.append({**asdict(doc), "shortfall": doc.shortfall})
    result.causes = _explain(result)
    return result


def _explain(a: TokenizerAudit) -> list[str]:
    causes = []
    if a.space_piece_id is None:
        causes.append(
            'the tokenizer has no standalone "▁" piece (issue #897): a space that no piece absorbs is '
            "encoded another way and the tables miscount it"
        )
    if a.mismatched_documents == 0:
        return causes
    if a.unknown_pieces and a.byte_source == "tables":
        fallback = "has byte fallback" if a.byte_fallback else "has no byte fallback"
        explained = a.unknown_bytes + a.spaces_after_unknown
        line = (
            f"the tokenizer {fallback}: {a.unknown_pieces} pieces of text outside its vocabulary became "
            f"<unk>, which the tables count as 0 bytes; they cover {a.unknown_bytes} bytes of normalized text, "
            f"and {a.spaces_after_unknown} spaces right after an <unk> are not counted either because <unk> "
            f"is a boundary token ({a.unknown_bytes} + {a.spaces_after_unknown} = {explained} bytes)"
        )
        if explained == a.shortfall_bytes:
            line += f", exactly the shortfall of {a.shortfall_bytes} bytes"
        else:
            line += f"; {a.shortfall_bytes - explained} bytes of the {a.shortfall_bytes}-byte shortfall remain unexplained"
        causes.append(line)
    elif a.byte_source == "sidecar":
        causes.append(
            f"the byte sidecar counts {a.table_bytes} bytes where the raw text has {a.raw_bytes} "
            f"({a.mismatched_documents} documents differ)"
        )
    else:
        causes.append(
            f"{a.mismatched_documents} documents differ by {a.shortfall_bytes} bytes with no unknown pieces: "
            "the tables do not match the tokenizer's normalization"
        )
    return causes
