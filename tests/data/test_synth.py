import json

from harness.data.synth import Corpus, SynthConfig, write_corpus


def test_same_seed_same_documents(tmp_path):
    a = write_corpus(tmp_path / "a.jsonl", 30).read_bytes()
    b = write_corpus(tmp_path / "b.jsonl", 30).read_bytes()
    c = write_corpus(tmp_path / "c.jsonl", 30, SynthConfig(seed=7)).read_bytes()
    assert a == b and a != c
    docs = [json.loads(line)["text"] for line in a.decode().splitlines()]
    assert len(docs) == 30 and all(len(d.split()) >= SynthConfig().min_words * 0.9 for d in docs)


def test_documents_have_bigram_and_topic_structure():
    import numpy as np

    corpus = Corpus()
    rng = np.random.default_rng(0)
    text = " ".join(corpus.document(rng) for _ in range(50)).lower()
    words = [w.strip(".,?!") for w in text.split()]
    index = {w: i for i, w in enumerate(corpus.words)}
    pairs = [(index[a], index[b]) for a, b in zip(words, words[1:]) if a in index and b in index]
    follows_chain = sum(b in corpus.succ[a] for a, b in pairs) / len(pairs)
    # about 55% of words are drawn from the previous word's successors: far above chance (6/2500)
    assert follows_chain > 0.3
