import pytest
import torch

from harness.engine.probe import diverging_copy, prefix_invariance_probe
from harness.engine.stream import EvalStream
from tests.engine.tiny_models import PeekingLM, TinyLM, random_stream_tokens

V = 64
MODES = {
    "flat": dict(seq_len=32),
    "sliding": dict(seq_len=32, stride=8),
    "ttt_sgd": dict(seq_len=32, stride=8, chunk_tokens=64, epochs=2, lr=0.05),
    "ttt_lora": dict(seq_len=24, chunk=8, rank=2, lr=0.05),
    "ttt_phased": dict(seq_len=24, chunk=8, rank=2, lr=0.05, prefix_docs=4, num_phases=2, global_seq_len=16, global_chunk_tokens=32),
}


class BidirectionalLM(TinyLM):
    """Attention without the causal mask: every position sees the whole window."""

    def forward_hidden(self, ids):
        T = ids.shape[1]
        x = self.emb(ids) + self.pos(torch.arange(T))[None]
        for blk in self.blocks:
            B, T, D = x.shape
            h = torch.nn.functional.rms_norm(x, (D,))
            q, k, v = (lin(h).view(B, T, blk.heads, -1).transpose(1, 2) for lin in (blk.q, blk.k, blk.v))
            att = ((q @ k.transpose(-1, -2)) / (D // blk.heads) ** 0.5).softmax(-1)
            x = x + blk.o((att @ v).transpose(1, 2).reshape(B, T, D))
            x = x + blk.down(torch.nn.functional.leaky_relu(blk.up(torch.nn.functional.rms_norm(x, (D,))), 0.5).square())
        return torch.nn.functional.rms_norm(x, (x.shape[-1],))


@pytest.fixture(scope="module")
def stream():
    return EvalStream.from_tokens(random_stream_tokens(401, V, seed=11, mean_doc=30))


@pytest.mark.parametrize("mode", sorted(MODES))
def test_probe_passes_for_a_causal_model(stream, mode):
    r = prefix_invariance_probe(TinyLM(vocab=V, seed=3), mode, stream, vocab_size=V, **MODES[mode])
    assert r.passed, r.to_dict()
    assert r.compared_targets >= 2 * (r.prefix_len - 1) - 2  # label and probe-label NLL of the whole prefix


@pytest.mark.parametrize("mode", sorted(MODES))
def test_probe_catches_a_model_that_reads_the_next_token(stream, mode):
    r = prefix_invariance_probe(PeekingLM(TinyLM(vocab=V, seed=3)), mode, stream, vocab_size=V, **MODES[mode])
    assert not r.passed
    assert r.first_differing_target == r.prefix_len - 1  # the last position whose inputs are shared


@pytest.mark.parametrize("mode", ["flat", "sliding", "ttt_sgd"])
def test_probe_catches_attention_to_the_future(stream, mode):
    r = prefix_invariance_probe(BidirectionalLM(vocab=V, seed=3), mode, stream, vocab_size=V, **MODES[mode])
    assert not r.passed and r.differing_targets > 5


def test_diverging_copy_keeps_prefix_and_document_starts(stream):
    other = diverging_copy(stream, 150, V)
    a, b = stream.tokens, other.tokens
    assert torch.equal(a[:150], b[:150])
    tail_a, tail_b = a[150:], b[150:]
    assert torch.equal(tail_a == 1, tail_b == 1)
    assert bool((tail_a[tail_a != 1] != tail_b[tail_a != 1]).all())
