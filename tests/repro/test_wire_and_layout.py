"""The pipe protocol between the harness and a sandboxed model, and the --data layout."""

import os
import struct

import numpy as np
import pytest

from harness.errors import MissingDataError
from harness.repro import wire
from harness.repro.layout import resolve


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.mark.parametrize("array", [np.arange(12, dtype=np.int64).reshape(3, 4), np.random.rand(2, 3, 5).astype(np.float32),
                                   np.zeros((0, 4), dtype=np.float32)])
def test_arrays_round_trip(pipe, array):
    r, w = pipe
    wire.send(w, {"op": "logits"}, array)
    header, got = wire.recv(r)
    assert header["op"] == "logits" and got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)


def test_header_only_message(pipe):
    r, w = pipe
    wire.send(w, {"op": "info", "n": 3})
    assert wire.recv(r) == ({"op": "info", "n": 3}, None)


def test_object_arrays_are_refused(pipe):
    _, w = pipe
    with pytest.raises(wire.WireError, match="cannot be sent"):
        wire.send(w, {}, np.array([object()]))


def test_lying_size_and_closed_pipe_are_errors(pipe):
    r, w = pipe
    raw = b'{"dtype": "float32", "shape": [4], "nbytes": 8}'
    os.write(w, struct.pack(">I", len(raw)) + raw)
    with pytest.raises(wire.WireError, match="needs 16"):
        wire.recv(r)
    os.close(w)
    with pytest.raises(wire.WireError, match="closed"):
        wire.recv(r)


def _layout(root, v, *, train=True, val=True, tokenizer=True, prefix="fineweb"):
    d = root / "datasets" / f"{prefix}10B_sp{v}"
    d.mkdir(parents=True)
    if train:
        (d / "fineweb_train_000000.bin").write_bytes(b"")
    if val:
        (d / "fineweb_val_000000.bin").write_bytes(b"")
    if tokenizer:
        (root / "tokenizers").mkdir()
        (root / "tokenizers" / f"{prefix}_{v}_bpe.model").write_bytes(b"")
    return d


def test_layout_resolves_dataset_tokenizer_and_env(tmp_path):
    d = _layout(tmp_path, 1024)
    layout = resolve(tmp_path, 1024)
    assert layout.dataset == d.resolve() and layout.tokenizer.name == "fineweb_1024_bpe.model"
    env = layout.env()
    assert env["DATA_PATH"] == str(d.resolve()) and env["VOCAB_SIZE"] == "1024" and env["DATA_DIR"].endswith("/")


def test_layout_lists_everything_missing(tmp_path):
    _layout(tmp_path, 1024, val=False, tokenizer=False)
    with pytest.raises(MissingDataError) as err:
        resolve(tmp_path, 1024)
    text = err.value.describe()
    assert str(tmp_path.resolve()) in text
    assert "fineweb_val_*.bin" in text and "tokenizers/fineweb_1024_bpe.model" in text and "fineweb_train" not in text


def test_layout_for_another_vocabulary_is_missing(tmp_path):
    _layout(tmp_path, 1024)
    with pytest.raises(MissingDataError, match="datasets/fineweb10B_sp8192/"):
        resolve(tmp_path, 8192)
