import json

import numpy as np

from harness.cli import main
from harness.data.docs import iter_documents
from harness.data.shards import list_shards, load_byte_sidecar, load_split, read_shard
from harness.tokenizer.luts import load_sentencepiece
from tests.shared_data import fineweb_docs, tokenizer


def test_prepare_splits_documents_like_the_challenge(tmp_path):
    out = tmp_path / "sp1024"
    rc = main(["data", "prepare", "--docs", str(fineweb_docs()), "--tokenizer", str(tokenizer("fineweb_1024_bpe")),
               "--out", str(out), "--val-docs", "50", "--shard-tokens", "100000", "--quiet"])
    assert rc == 0
    sp = load_sentencepiece(tokenizer("fineweb_1024_bpe"))
    docs = list(iter_documents(fineweb_docs()))
    expect_val = np.concatenate([[1] + sp.encode(d) for d in docs[:50]])
    expect_train = np.concatenate([[1] + sp.encode(d) for d in docs[50:]])
    val, train = load_split(out, "val", vocab_size=1024), load_split(out, "train", vocab_size=1024)
    assert np.array_equal(val, expect_val) and np.array_equal(train, expect_train)
    assert int((val == 1).sum()) == 50 and int((train == 1).sum()) == 150  # BOS before every document
    # full shards except the last of each split; val and train never share a shard
    for split, arr in (("val", val), ("train", train)):
        sizes = [read_shard(p).size for p in list_shards(out, split)]
        assert all(s == 100000 for s in sizes[:-1]) and sum(sizes) == arr.size
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["documents"] == {"val": 50, "train": 150}


def test_prepare_byte_sidecar_counts_raw_bytes(tmp_path):
    out = tmp_path / "side"
    main(["data", "prepare", "--docs", str(fineweb_docs()), "--tokenizer", str(tokenizer("fineweb_1024_bpe")),
          "--out", str(out), "--val-docs", "10", "--byte-sidecar", "--quiet"])
    val = load_split(out, "val")
    side = load_byte_sidecar(out, val.size)
    docs = list(iter_documents(fineweb_docs(), limit=10))
    assert side[val == 1].sum() == 0  # BOS slots carry no bytes
    # everything but whitespace stripped at document edges is covered
    assert int(side.sum()) == sum(len(d.strip().encode()) for d in docs)
