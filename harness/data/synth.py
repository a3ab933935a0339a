"""A synthetic corpus the project generates itself, deterministically, for the bundled example.

No third-party text: words are made from syllables; sentences follow a sparse bigram chain over a
Zipf-distributed lexicon, and each document leans towards a topic's words, so a small model has
both local and longer-range structure to learn (its loss falls, and longer context helps). Same
seed, same documents, on any machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.atomic import atomic_write_text

CONSONANTS = "bcdfghjklmnprstvwz"
VOWELS = "aeiou"
ENDINGS = ("", "", "", "s", "ed", "ing", "er", "ly")


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 1234
    words: int = 2500
    successors: int = 6
    topics: int = 16
    topic_words: int = 120
    min_words: int = 60
    max_words: int = 400


def _lexicon(rng: np.random.Generator, n: int) -> list[str]:
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < n:
        syllables = int(rng.integers(1, 4))
        w = "".join(CONSONANTS[rng.integers(len(CONSONANTS))] + VOWELS[rng.integers(len(VOWELS))] for _ in range(syllables))
        w += ENDINGS[rng.integers(len(ENDINGS))]
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


class Corpus:
    def __init__(self, cfg: SynthConfig = SynthConfig()):
        self.cfg = cfg
        rng = np.random.default_rng(cfg.seed)
        self.words = _lexicon(rng, cfg.words)
        ranks = np.arange(1, cfg.words + 1, dtype=np.float64)
        self.unigram = (1.0 / ranks) / (1.0 / ranks).sum()
        self.unigram_cdf = np.cumsum(self.unigram)
        self.succ = rng.choice(cfg.words, size=(cfg.words, cfg.successors), p=self.unigram)
        self.topic_sets = [rng.choice(cfg.words, size=cfg.topic_words, replace=False) for _ in range(cfg.topics)]

    def document(self, rng: np.random.Generator) -> str:
        cfg = self.cfg
        topic = self.topic_sets[rng.integers(cfg.topics)]
        n = int(rng.integers(cfg.min_words, cfg.max_words + 1))
        # draw everything a document needs at once; the loop only indexes
        kind = rng.random(n)
        succ_pick = rng.integers(cfg.successors, size=n)
        topic_pick = topic[rng.integers(len(topic), size=n)]
        uni_pick = np.minimum(np.searchsorted(self.unigram_cdf, rng.random(n)), cfg.words - 1)
        numbers = np.where(rng.random(n) < 0.02, rng.integers(0, 2000, size=n), -1)
        stop = rng.random(n)
        para = rng.random(n)
        paragraphs, sentences, sentence = [], [], []
        w = int(topic_pick[0])
        for i in range(n):
            if kind[i] < 0.55:
                w = int(self.succ[w, succ_pick[i]])  # local structure
            elif kind[i] < 0.8:
                w = int(topic_pick[i])  # the document's topic
            else:
                w = int(uni_pick[i])
            sentence.append(self.words[w] if numbers[i] < 0 else str(int(numbers[i])))
            if len(sentence) >= 6 and stop[i] < 0.12:
                sentences.append(self._sentence(sentence, rng))
                sentence = []
                if len(sentences) >= 3 and para[i] < 0.3:
                    paragraphs.append(" ".join(sentences))
                    sentences = []
        if sentence:
            sentences.append(self._sentence(sentence, rng))
        if sentences:
            paragraphs.append(" ".join(sentences))
        return "\n\n".join(paragraphs)

    @staticmethod
    def _sentence(words: list[str], rng: np.random.Generator) -> str:
        out = list(words)
        for i in range(1, len(out) - 1):
            if rng.random() < 0.07:
                out[i] += ","
        out[0] = out[0][:1].upper() + out[0][1:]
        r = rng.random()
        return " ".join(out) + ("." if r < 0.85 else "?" if r < 0.95 else "!")


def write_corpus(path: str | Path, n_docs: int, cfg: SynthConfig = SynthConfig()) -> Path:
    corpus = Corpus(cfg)
    rng = np.random.default_rng(cfg.seed + 1)
    lines = [json.dumps({"text": corpus.document(rng)}) for _ in range(n_docs)]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def train_tokenizer(docs_path: str | Path, model_path: str | Path, vocab_size: int = 512) -> Path:
    """A SentencePiece BPE tokenizer with the challenge's settings (byte fallback, split digits,
    nmt_nfkc, no dummy prefix, ids pad 0 / bos 1 / eos 2 / unk 3). Single-threaded so the same
    documents give the same vocabulary."""
    import tempfile

    import sentencepiece as spm

    from harness.data.docs import iter_documents

    model_path = Path(model_path)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "train.txt"
        text.write_text("\n".join(t.replace("\x00", " ").strip() for t in iter_documents(docs_path)) + "\n", encoding="utf-8")
        prefix = Path(tmp) / "tokenizer"
        try:
            spm.SentencePieceTrainer.train(
                input=str(text), model_prefix=str(prefix), model_type="bpe", vocab_size=vocab_size,
                character_coverage=0.999, byte_fallback=True, split_digits=True, normalization_rule_name="nmt_nfkc",
                add_dummy_prefix=False, pad_id=0, bos_id=1, eos_id=2, unk_id=3, hard_vocab_limit=False,
                num_threads=1, minloglevel=2,
            )
        except RuntimeError as exc:  # sentencepiece reports bad settings as RuntimeError
            from harness.errors import UsageError

            raise UsageError(f"tokenizer training failed: {str(exc).split('] ')[-1]}") from exc
        model_path.parent.mkdir(parents=True, exist_ok=True)
        model_path.write_bytes(prefix.with_suffix(".model").read_bytes())
    return model_path


def build_synthetic_dataset(
    out_dir: str | Path,
    *,
    n_docs: int = 2000,
    val_docs: int = 200,
    vocab_size: int = 512,
    tokenizer: str | Path | None = None,
    cfg: SynthConfig = SynthConfig(),
    shard_tokens: int = 10**8,
) -> dict:
    """Documents, tokenizer and shards in the challenge's layout::

        OUT/docs.jsonl
        OUT/tokenizers/synth_<V>_bpe.model            (trained here, or a copy of ``tokenizer``)
        OUT/datasets/synth_sp<V>/fineweb_{val,train}_NNNNNN.bin
    """
    from harness.data.prepare import prepare_shards
    from harness.tokenizer.luts import load_sentencepiece

    out = Path(out_dir)
    docs = write_corpus(out / "docs.jsonl", n_docs, cfg)
    if tokenizer is not None:
        vocab_size = int(load_sentencepiece(tokenizer).vocab_size())
        tok_path = out / "tokenizers" / f"synth_{vocab_size}_bpe.model"
        tok_path.parent.mkdir(parents=True, exist_ok=True)
        tok_path.write_bytes(Path(tokenizer).read_bytes())
    else:
        tok_path = train_tokenizer(docs, out / "tokenizers" / f"synth_{vocab_size}_bpe.model", vocab_size)
    data_dir = out / "datasets" / f"synth_sp{vocab_size}"
    report = prepare_shards(docs, tok_path, data_dir, val_docs=val_docs, shard_tokens=shard_tokens, progress=False)
    return {"docs": str(docs), "tokenizer": str(tok_path), "data_dir": str(data_dir), "vocab_size": vocab_size,
            "tokens": report.tokens, "documents": report.documents}
