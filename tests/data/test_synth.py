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


def test_synth_command_builds_a_challenge_layout_dataset(tmp_path):
    from harness.cli import main
    from harness.data.shards import load_split
    from harness.tokenizer.audit import audit_tokenizer
    from harness.data.docs import iter_documents

    assert main(["data", "synth", "--out", str(tmp_path / "a"), "--docs", "60", "--val-docs", "10", "--vocab-size", "400"]) == 0
    tok = tmp_path / "a" / "tokenizers" / "synth_400_bpe.model"
    val = load_split(tmp_path / "a" / "datasets" / "synth_sp400", "val", vocab_size=400)
    train = load_split(tmp_path / "a" / "datasets" / "synth_sp400", "train", vocab_size=400)
    assert int((val == 1).sum()) == 10 and int((train == 1).sum()) == 50
    # the tokenizer's byte tables count every normalized byte of the synthetic text
    assert audit_tokenizer(tok, list(iter_documents(tmp_path / "a" / "docs.jsonl"))).mismatched_documents == 0
    # same command, same tokenizer vocabulary and shards
    main(["data", "synth", "--out", str(tmp_path / "b"), "--docs", "60", "--val-docs", "10", "--vocab-size", "400"])
    assert (tmp_path / "b" / "datasets" / "synth_sp400" / "fineweb_val_000000.bin").read_bytes() == \
        (tmp_path / "a" / "datasets" / "synth_sp400" / "fineweb_val_000000.bin").read_bytes()


def test_too_small_vocabulary_is_a_usage_error(tmp_path, capsys):
    from harness.cli import main

    assert main(["data", "synth", "--out", str(tmp_path), "--docs", "20", "--val-docs", "5", "--vocab-size", "100"]) == 2
    assert "tokenizer training failed" in capsys.readouterr().err
