import numpy as np
import pytest

from harness.data.shards import (
    HEADER_BYTES,
    MAGIC,
    encode_shard,
    list_shards,
    load_byte_sidecar,
    load_split,
    read_header,
    read_shard,
    truncate_for_seq_len,
    write_shard,
)
from harness.errors import DataFormatError, MissingDataError


def test_round_trip(tmp_path):
    tokens = np.array([1, 5, 1023, 0, 65535, 7], dtype=np.int64)
    p = write_shard(tmp_path / "fineweb_val_000000.bin", tokens)
    assert p.stat().st_size == HEADER_BYTES + 2 * tokens.size
    hdr = read_header(p)
    assert (hdr.magic, hdr.version, hdr.num_tokens) == (MAGIC, 1, tokens.size)
    assert np.array_equal(read_shard(p), tokens)
    assert np.array_equal(read_shard(p, mmap=True), tokens)
    # the layout is the challenge's: little-endian int32 header then uint16
    raw = p.read_bytes()
    assert int.from_bytes(raw[:4], "little") == 20240520 and int.from_bytes(raw[8:12], "little") == tokens.size
    assert int.from_bytes(raw[HEADER_BYTES : HEADER_BYTES + 2], "little") == 1


def _corrupt(tmp_path, mutate):
    data = bytearray(encode_shard(np.arange(10)))
    mutate(data)
    p = tmp_path / "fineweb_val_000000.bin"
    p.write_bytes(bytes(data))
    return p


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda d: d.__setitem__(slice(0, 4), (12345).to_bytes(4, "little")), "magic is 12345"),
        (lambda d: d.__setitem__(slice(4, 8), (2).to_bytes(4, "little")), "version is 2"),
        (lambda d: d.__setitem__(slice(8, 12), (11).to_bytes(4, "little")), "token count 11"),
        (lambda d: d.extend(b"\0\0"), "truncated or padded"),
        (lambda d: d.__delitem__(slice(len(d) - 1, len(d))), "truncated or padded"),
        (lambda d: d.__delitem__(slice(100, len(d))), "shorter than the 1024-byte header"),
        (lambda d: d.__setitem__(slice(8, 12), (-3).to_bytes(4, "little", signed=True)), "negative"),
    ],
)
def test_malformed_shards_are_rejected_with_file_and_reason(tmp_path, mutate, needle):
    p = _corrupt(tmp_path, mutate)
    with pytest.raises(DataFormatError) as exc:
        read_shard(p)
    assert needle in str(exc.value) and str(p) in str(exc.value)


def test_token_outside_vocabulary_names_position(tmp_path):
    p = write_shard(tmp_path / "fineweb_val_000000.bin", [1, 2, 3, 1024, 5, 2000])
    with pytest.raises(DataFormatError) as exc:
        read_shard(p, vocab_size=1024)
    msg = str(exc.value)
    assert "token id 1024 at position 3" in msg and "2 such tokens" in msg and str(p) in msg
    assert read_shard(p, vocab_size=2001).size == 6


def test_writer_refuses_what_the_challenge_refuses(tmp_path):
    with pytest.raises(ValueError):
        encode_shard([70000])
    with pytest.raises(ValueError):
        encode_shard([-1])
    with pytest.raises(ValueError):
        encode_shard([5], vocab_size=4)


def test_missing_file(tmp_path):
    with pytest.raises(MissingDataError):
        read_shard(tmp_path / "nope.bin")


def test_split_loading_ignores_byte_sidecar_and_sorts(tmp_path):
    write_shard(tmp_path / "fineweb_val_000001.bin", [1, 9, 9])
    write_shard(tmp_path / "fineweb_val_000000.bin", [1, 8])
    write_shard(tmp_path / "fineweb_val_bytes_000000.bin", [0, 1, 0, 2, 2])  # matches the loose glob fineweb_val_*
    write_shard(tmp_path / "fineweb_train_000000.bin", [1, 7])
    assert [p.name for p in list_shards(tmp_path, "val")] == ["fineweb_val_000000.bin", "fineweb_val_000001.bin"]
    assert load_split(tmp_path, "val").tolist() == [1, 8, 1, 9, 9]
    assert load_byte_sidecar(tmp_path, 5).tolist() == [0, 1, 0, 2, 2]
    with pytest.raises(DataFormatError):
        load_byte_sidecar(tmp_path, 4)
    with pytest.raises(MissingDataError):
        load_split(tmp_path / "empty", "val")


def test_truncation_matches_load_validation_tokens():
    toks = np.arange(1 + 3 * 16 + 5)
    out = truncate_for_seq_len(toks, 16)
    assert out.size == 3 * 16 + 1  # usable = ((N - 1) // L) * L targets, plus the first input
