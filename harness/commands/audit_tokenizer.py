"""`harness audit-tokenizer TOKENIZER --docs DOCS.jsonl`: check the byte tables against the text."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit-tokenizer",
        help="audit a tokenizer's byte tables against the normalized text of documents",
        description="For each document, compare the bytes the challenge's look-up tables count with the "
        "UTF-8 length of the tokenizer-normalized text (or, with --byte-sidecar, the sidecar's counts "
        "with the raw text). Exit 1 when any document mismatches.",
    )
    p.add_argument("tokenizer", help="SentencePiece .model file")
    p.add_argument("--docs", required=True, help="JSONL with one {\"text\": ...} per line")
    p.add_argument("--limit", type=int, default=None, help="audit only the first N documents")
    p.add_argument("--byte-sidecar", help="per-token byte sidecar (fineweb_val_bytes_*.bin) as the byte source")
    p.add_argument("--tokens", help="the token shard the sidecar is aligned with (documents start at BOS)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from harness.data.docs import iter_documents
    from harness.errors import UsageError
    from harness.tokenizer.audit import audit_tokenizer

    docs = list(iter_documents(args.docs, limit=args.limit))
    sidecars = None
    if args.byte_sidecar or args.tokens:
        if not (args.byte_sidecar and args.tokens):
            raise UsageError("--byte-sidecar and --tokens go together")
        sidecars = _split_sidecar(args.byte_sidecar, args.tokens, len(docs))
    result = audit_tokenizer(args.tokenizer, docs, sidecars=sidecars, progress=args.format == "text")
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"tokenizer: {args.tokenizer} (vocab {result.vocab_size}, byte source: {result.byte_source}, "
              f"byte fallback: {'yes' if result.byte_fallback else 'no'})")
        print(f"documents: {result.documents}")
        print(f"tokens: {result.tokens}")
        print(f"counted bytes: {result.table_bytes}")
        print(f"normalized-text bytes: {result.normalized_bytes}")
        print(f"raw-text bytes: {result.raw_bytes}")
        print(f"unknown pieces: {result.unknown_pieces} ({result.unknown_bytes} bytes)")
        print(f"documents that mismatch: {result.mismatched_documents}")
        if result.mismatched_documents:
            print(f"shortfall: {result.shortfall_bytes} bytes "
                  f"({100 * result.shortfall_bytes / max(result.normalized_bytes, 1):.3f}% of the reference)")
            for m in result.mismatches[:5]:
                print(f"  document {m['index']}: counted {m['table_bytes']}, expected {m['normalized_bytes'] if m['byte_source'] == 'tables' else m['raw_bytes']}")
        for cause in result.causes:
            print(f"cause: {cause}")
        print("verdict: " + ("ok" if result.ok else "MISCOUNTS BYTES"))
    return 0 if result.ok else 1


def _split_sidecar(sidecar_path: str, tokens_path: str, n_docs: int):
    import numpy as np

    from harness.data.shards import read_shard
    from harness.errors import DataFormatError

    tokens = read_shard(tokens_path)
    sidecar = read_shard(sidecar_path)
    if sidecar.size != tokens.size:
        raise DataFormatError(f"sidecar has {sidecar.size} entries, token shard {tokens.size}", path=sidecar_path)
    starts = np.flatnonzero(tokens == 1)
    if starts.size < n_docs:
        raise DataFormatError(f"token shard holds {starts.size} documents, fewer than the {n_docs} audited", path=tokens_path)
    ends = list(starts[1:]) + [tokens.size]
    # each document's own tokens follow its BOS; the BOS slot carries 0 bytes
    return [sidecar[s + 1 : e].astype(np.int64) for s, e in zip(starts[:n_docs], ends[:n_docs])]
