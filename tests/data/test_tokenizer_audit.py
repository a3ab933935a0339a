"""Byte tables and their exact audit on the real challenge tokenizers and FineWeb documents."""

import json

import numpy as np
import pytest

from harness.data.docs import iter_documents
from harness.tokenizer.audit import audit_tokenizer
from harness.tokenizer.luts import SPACE_MARK, build_byte_tables, load_sentencepiece
from tests.shared_data import fineweb_docs, tokenizer


def slow_table_bytes(sp, ids, bos):
    """The challenge's rule written out per token, independently of the vectorised tables."""
    total, prev = 0, bos
    for t in ids:
        boundary = lambda i: sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i)  # noqa: E731
        if not boundary(t):
            if sp.is_byte(t):
                total += 1
            else:
                piece = sp.id_to_piece(t)
                if piece.startswith(SPACE_MARK):
                    total += len(piece[1:].encode()) + (0 if boundary(prev) else 1)
                else:
                    total += len(piece.encode())
        prev = t
    return total


@pytest.mark.parametrize("name", ["fineweb_1024_bpe", "fineweb_4096_bpe", "fineweb_8192_bpe"])
def test_challenge_tokenizers_count_every_normalized_byte(name):
    docs = list(iter_documents(fineweb_docs()))
    a = audit_tokenizer(tokenizer(name), docs)
    assert a.documents == 200 and a.tokens > 0
    assert a.mismatched_documents == 0 and a.shortfall_bytes == 0 and a.ok
    assert a.table_bytes == a.normalized_bytes
    sp = load_sentencepiece(tokenizer(name))
    assert a.table_bytes == sum(slow_table_bytes(sp, sp.encode(d), sp.bos_id()) for d in docs)
    # normalization collapses whitespace, so raw text is a little longer than what the tables count
    assert a.raw_bytes >= a.normalized_bytes


def test_tokenizer_without_byte_fallback_is_flagged_with_exact_shortfall_and_cause():
    name = "nobytefallback_1024_bpe"
    docs = list(iter_documents(fineweb_docs()))
    a = audit_tokenizer(tokenizer(name), docs)
    sp = load_sentencepiece(tokenizer(name))
    counted = sum(slow_table_bytes(sp, sp.encode(d), sp.bos_id()) for d in docs)
    normalized = sum(len(sp.normalize(d).replace(SPACE_MARK, " ").encode()) for d in docs)
    assert not a.ok and a.mismatched_documents > 0
    assert a.shortfall_bytes == normalized - counted > 0
    assert not a.byte_fallback and a.unknown_pieces > 0
    assert a.unknown_bytes + a.spaces_after_unknown == a.shortfall_bytes
    assert any("no byte fallback" in c and "exactly the shortfall" in c for c in a.causes)


def test_sidecar_byte_source_is_checked_against_raw_text():
    sp = load_sentencepiece(tokenizer("fineweb_1024_bpe"))
    docs = list(iter_documents(fineweb_docs(), limit=20))
    # a sidecar built from each piece's span in the original text counts raw bytes exactly
    sidecars = []
    for d in docs:
        m = sp.encode_as_offset_mapping(d)
        sidecars.append(np.array([len(d[b:e].encode()) for b, e in m["offsets"]]))
    good = audit_tokenizer(tokenizer("fineweb_1024_bpe"), docs, sidecars=sidecars)
    assert good.byte_source == "sidecar"
    # whitespace the normalizer strips at either end of a document is covered by no span
    edges = sum(len(d.encode()) - len(d.strip().encode()) for d in docs)
    assert good.shortfall_bytes == edges
    bad = audit_tokenizer(tokenizer("fineweb_1024_bpe"), docs, sidecars=[s * 2 for s in sidecars])
    assert bad.mismatched_documents == len(docs) and bad.shortfall_bytes < 0


def test_tables_shape_and_boundaries():
    sp = load_sentencepiece(tokenizer("fineweb_1024_bpe"))
    t = build_byte_tables(sp, vocab_size=1100)
    assert t.size == 1100 and t.is_boundary[1024:].all() and (t.base_bytes[1024:] == 0).all()
    assert t.is_boundary[sp.bos_id()] and t.base_bytes[sp.bos_id()] == 0
    assert t.space_piece_id == sp.piece_to_id(SPACE_MARK)
    assert t.byte_fallback


def test_audit_cli_json(tmp_path, capsys):
    from harness.cli import main

    rc = main(["audit-tokenizer", str(tokenizer("nobytefallback_1024_bpe")), "--docs", str(fineweb_docs()), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and out["ok"] is False and out["shortfall_bytes"] > 0 and out["causes"]
    rc = main(["audit-tokenizer", str(tokenizer("fineweb_1024_bpe")), "--docs", str(fineweb_docs())])
    text = capsys.readouterr().out
    assert rc == 0 and "documents that mismatch: 0" in text
