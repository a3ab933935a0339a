"""`harness data prepare`: documents -> challenge-format shards."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build challenge-format data")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    prep = dsub.add_parser(
        "prepare",
        help="tokenize documents into fineweb_val_*/fineweb_train_* shards",
        description="Tokenize a JSONL of documents into the challenge's shards: BOS before every document, "
        "the first N documents to validation (50,000 by default, as in the challenge), the rest to training.",
    )
    prep.add_argument("--docs", required=True, help='JSONL with one {"text": ...} per line')
    prep.add_argument("--tokenizer", required=True, help="SentencePiece .model")
    prep.add_argument("--out", required=True, help="output folder")
    prep.add_argument("--val-docs", type=int, default=50_000, help="documents in the validation split (default 50000)")
    prep.add_argument("--shard-tokens", type=int, default=10**8, help="tokens per shard (default 1e8, as the challenge)")
    prep.add_argument("--byte-sidecar", action="store_true", help="also write fineweb_val_bytes_*.bin (original bytes per token)")
    prep.add_argument("--quiet", action="store_true", help="no progress bar")
    prep.set_defaults(handler=run_prepare)
    syn = dsub.add_parser(
        "synth",
        help="generate the project's own synthetic corpus, tokenizer and shards",
        description="Deterministic synthetic documents (no third-party text), a SentencePiece tokenizer with the "
        "challenge's settings (or a given one) and challenge-layout shards under OUT.",
    )
    syn.add_argument("--out", required=True)
    syn.add_argument("--docs", type=int, default=2000, help="documents to generate (default 2000)")
    syn.add_argument("--val-docs", type=int, default=200, help="documents in the validation split (default 200)")
    syn.add_argument("--vocab-size", type=int, default=512)
    syn.add_argument("--tokenizer", help="use this tokenizer instead of training one")
    syn.add_argument("--seed", type=int, default=1234)
    syn.add_argument("--shard-tokens", type=int, default=10**8)
    syn.set_defaults(handler=run_synth)
    p.set_defaults(handler=lambda args: (p.print_help(), 2)[1])


def run_prepare(args: argparse.Namespace) -> int:
    from harness.data.prepare import prepare_shards

    r = prepare_shards(args.docs, args.tokenizer, args.out, val_docs=args.val_docs, shard_tokens=args.shard_tokens,
                       byte_sidecar=args.byte_sidecar, progress=not args.quiet)
    print(f"wrote {len(r.shards['val'])} val and {len(r.shards['train'])} train shards to {r.out_dir}: "
          f"{r.documents['val']} val documents ({r.tokens['val']} tokens), "
          f"{r.documents['train']} train documents ({r.tokens['train']} tokens)")
    return 0


def run_synth(args: argparse.Namespace) -> int:
    from harness.data.synth import SynthConfig, build_synthetic_dataset

    r = build_synthetic_dataset(args.out, n_docs=args.docs, val_docs=args.val_docs, vocab_size=args.vocab_size,
                                tokenizer=args.tokenizer, cfg=SynthConfig(seed=args.seed), shard_tokens=args.shard_tokens)
    print(f"wrote {r['documents']['val']} val / {r['documents']['train']} train documents "
          f"({r['tokens']['val']} / {r['tokens']['train']} tokens) to {r['data_dir']}; tokenizer {r['tokenizer']}")
    return 0
