"""The challenge's data layout under ``--data DIR``, resolved for one vocabulary size.

    DIR/datasets/fineweb10B_sp<V>/fineweb_train_NNNNNN.bin, fineweb_val_NNNNNN.bin
    DIR/tokenizers/fineweb_<V>_bpe.model

The harness's own synthetic layout (``harness data synth``: ``datasets/synth_sp<V>``,
``tokenizers/synth_<V>_bpe.model``) is accepted the same way. A missing piece is an error that
lists everything that is missing, not just the first thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import MissingDataError


@dataclass(frozen=True)
class DataLayout:
    root: Path
    dataset: Path  # the folder with the shards (DATA_PATH)
    tokenizer: Path  # TOKENIZER_PATH
    vocab_size: int

    def env(self) -> dict[str, str]:
        """The variables the records' scripts read to find their data."""
        return {"DATA_PATH": str(self.dataset), "TOKENIZER_PATH": str(self.tokenizer), "DATA_DIR": str(self.root) + "/",
                "VOCAB_SIZE": str(self.vocab_size)}


def _pick(candidates: list[Path]) -> Path | None:
    fineweb = [c for c in candidates if c.name.startswith("fineweb")]
    return (fineweb or candidates or [None])[0]


def resolve(root: str | Path, vocab_size: int) -> DataLayout:
    root = Path(root).resolve()
    if not root.is_dir():
        raise MissingDataError("--data folder not found", path=root)
    v = vocab_size
    datasets = sorted(p for p in (root / "datasets").glob(f"*_sp{v}") if p.is_dir())
    tokenizers = sorted((root / "tokenizers").glob(f"*_{v}_bpe.model"))
    dataset, tokenizer = _pick(datasets), _pick(tokenizers)
    missing = []
    if dataset is None:
        missing.append(f"datasets/fineweb10B_sp{v}/ (a folder of fineweb_{{train,val}}_*.bin shards)")
    else:
        for split in ("train", "val"):
            if not any(dataset.glob(f"fineweb_{split}_*.bin")):
                missing.append(f"{dataset.relative_to(root)}/fineweb_{split}_*.bin")
    if tokenizer is None:
        missing.append(f"tokenizers/fineweb_{v}_bpe.model")
    if missing:
        raise MissingDataError(f"the challenge layout for vocabulary {v} is incomplete; missing: " + "; ".join(missing),
                               path=root)
    return DataLayout(root, dataset, tokenizer, v)
