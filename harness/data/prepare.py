"""Build challenge-format shards from documents, the way the challenge's exporter does.

Documents are read in file order and encoded from their raw text (no strip); each is written as
``[BOS] + ids``. The first ``val_docs`` documents form the validation split, the rest training;
a split change flushes the current shard so val and train never share one. Documents run across
shard boundaries with no padding; every shard but the last of a split holds ``shard_tokens``
tokens. With ``byte_sidecar`` the validation split also gets ``fineweb_val_bytes_NNNNNN.bin``:
per token position, the UTF-8 bytes of original text the token covers (BOS slots hold 0).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from harness.atomic import atomic_write_json
from harness.data.docs import count_documents, iter_documents
from harness.data.shards import shard_name, sidecar_name, write_shard
from harness.errors import UsageError
from harness.tokenizer.luts import load_sentencepiece

CHALLENGE_VAL_DOCS = 50_000
CHALLENGE_SHARD_TOKENS = 10**8


@dataclass
class PrepareReport:
    out_dir: str
    tokenizer: str
    tokenizer_sha256: str
    docs_sha256: str
    documents: dict = field(default_factory=lambda: {"val": 0, "train": 0})
    tokens: dict = field(default_factory=lambda: {"val": 0, "train": 0})
    shards: dict = field(default_factory=lambda: {"val": [], "train": [], "val_bytes": []})
    val_docs: int = CHALLENGE_VAL_DOCS
    shard_tokens: int = CHALLENGE_SHARD_TOKENS


class _ShardWriter:
    def __init__(self, out_dir: Path, split: str, shard_tokens: int, vocab: int, report: PrepareReport, sidecar: bool):
        self.out_dir, self.split, self.size, self.vocab, self.report = out_dir, split, shard_tokens, vocab, report
        self.tokens: list[np.ndarray] = []
        self.nbytes: list[np.ndarray] | None = [] if sidecar else None
        self.buffered = 0
        self.index = 0

    def add(self, ids: np.ndarray, nbytes: np.ndarray | None) -> None:
        pos = 0
        while pos < ids.size:
            take = min(self.size - self.buffered, ids.size - pos)
            self.tokens.append(ids[pos : pos + take])
            if self.nbytes is not None:
                self.nbytes.append(nbytes[pos : pos + take])
            self.buffered += take
            pos += take
            if self.buffered == self.size:
                self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        name = shard_name(self.split, self.index)
        write_shard(self.out_dir / name, np.concatenate(self.tokens), vocab_size=self.vocab)
        self.report.shards[self.split].append(name)
        if self.nbytes is not None:
            side = sidecar_name(self.index)
            write_shard(self.out_dir / side, np.concatenate(self.nbytes))
            self.report.shards["val_bytes"].append(side)
        self.tokens, self.buffered = [], 0
        if self.nbytes is not None:
            self.nbytes = []
        self.index += 1


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare_shards(
    docs_path: str | Path,
    tokenizer_path: str | Path,
    out_dir: str | Path,
    *,
    val_docs: int = CHALLENGE_VAL_DOCS,
    shard_tokens: int = CHALLENGE_SHARD_TOKENS,
    byte_sidecar: bool = False,
    progress: bool = True,
) -> PrepareReport:
    if shard_tokens <= 0 or val_docs < 0:
        raise UsageError("--shard-tokens must be positive and --val-docs non-negative")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sp = load_sentencepiece(tokenizer_path)
    vocab, bos = int(sp.vocab_size()), int(sp.bos_id())
    if bos < 0:
        raise UsageError(f"{tokenizer_path}: the tokenizer defines no BOS piece; challenge shards start every document with BOS")
    report = PrepareReport(str(out), str(tokenizer_path), _sha256(Path(tokenizer_path)), _sha256(Path(docs_path)),
                           val_docs=val_docs, shard_tokens=shard_tokens)
    writers = {
        "val": _ShardWriter(out, "val", shard_tokens, vocab, report, byte_sidecar),
        "train": _ShardWriter(out, "train", shard_tokens, vocab, report, False),
    }
    total = count_documents(docs_path) if progress else None
    docs = iter_documents(docs_path)
    if progress:
        from tqdm import tqdm

        docs = tqdm(docs, total=total, desc="tokenize", unit="doc", dynamic_ncols=True)
    for i, text in enumerate(docs):
        split = "val" if i < val_docs else "train"
        if split == "train" and i == val_docs:
            writers["val"].flush()  # the split changed: never share a shard
        if byte_sidecar and split == "val":
            m = sp.encode_as_offset_mapping(text)
            ids = np.asarray([bos] + list(m["ids"]), dtype=np.int64)
            nbytes = np.asarray([0] + [len(text[b:e].encode("utf-8")) for b, e in m["offsets"]], dtype=np.int64)
        else:
            ids, nbytes = np.asarray([bos] + sp.encode(text), dtype=np.int64), None
        writers[split].add(ids, nbytes)
        report.documents[split] += 1
        report.tokens[split] += int(ids.size)
    for w in writers.values():
        w.flush()
    atomic_write_json(out / "manifest.json", asdict(report))
    return report
