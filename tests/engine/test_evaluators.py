"""Evaluator invariants on a float64 model: brute force, batch/stride/world-size independence, legality."""

import copy
import math

import numpy as np
import pytest
import torch

from harness.engine.api import run_mode
from harness.engine.stream import EvalStream
from harness.errors import UsageError
from tests.engine.tiny_models import LogitsOnly, TinyLM, random_stream_tokens

V = 64


@pytest.fixture(scope="module")
def model():
    return TinyLM(vocab=V, seed=1)


@pytest.fixture(scope="module")
def stream():
    toks = random_stream_tokens(301, V, seed=2)  # T = 300: not a multiple of the window
    nbytes = (np.arange(300) % 3 + 1).astype(np.int32)  # non-uniform bytes so bpb weighting matters
    return EvalStream(toks, nbytes)


def brute_force_sliding(model, stream, L, s):
    """Each target scored alone, with exactly the context its sliding window gives it."""
    toks = stream.tokens
    nll = np.zeros(stream.num_targets)
    with torch.no_grad():
        for j in range(stream.num_targets):
            ws = 0 if j < L else ((j - L) // s + 1) * s
            ctx = toks[ws : j + 1][None]
            logp = torch.log_softmax(model.forward_logits(ctx)[0, -1], -1)
            nll[j] = -float(logp[toks[j + 1]])
    return nll


@pytest.mark.parametrize("L,s", [(32, 8), (32, 5), (20, 20)])
def test_sliding_equals_brute_force(model, stream, L, s):
    ref = brute_force_sliding(model, stream, L, s)
    r = run_mode("sliding", model, stream, seq_len=L, stride=s, collect_per_token=True)
    assert np.allclose(r.per_token_nll, ref, rtol=0, atol=1e-9)
    assert r.tokens == stream.num_targets
    assert math.isclose(r.val_loss, ref.mean(), rel_tol=1e-9)
    assert math.isclose(r.val_bpb, ref.sum() / (math.log(2) * stream.target_bytes.sum()), rel_tol=1e-9)


@pytest.mark.parametrize("batch", [1, 3, 64])
def test_sliding_is_independent_of_batch_size(model, stream, batch):
    base = run_mode("sliding", model, stream, seq_len=32, stride=8, batch_windows=32)
    r = run_mode("sliding", model, stream, seq_len=32, stride=8, batch_windows=batch)
    assert math.isclose(r.val_loss, base.val_loss, rel_tol=1e-12) and r.tokens == base.tokens


def test_stride_equal_to_window_equals_flat(model):
    toks = random_stream_tokens(32 * 9 + 1, V, seed=3)
    st = EvalStream.from_tokens(toks)
    a = run_mode("sliding", model, st, seq_len=32, stride=32)
    b = run_mode("flat", model, st, seq_len=32)
    assert math.isclose(a.val_loss, b.val_loss, rel_tol=1e-12) and a.tokens == b.tokens == 32 * 9


def test_hidden_fast_path_equals_full_logits(model, stream):
    a = run_mode("sliding", model, stream, seq_len=32, stride=8, collect_per_token=True)
    b = run_mode("sliding", LogitsOnly(model), stream, seq_len=32, stride=8, collect_per_token=True)
    assert np.allclose(a.per_token_nll, b.per_token_nll, rtol=0, atol=1e-12)


def test_ttt_with_zero_learning_rate_equals_sliding(model, stream):
    s = run_mode("sliding", model, stream, seq_len=32, stride=8, collect_per_token=True)
    t = run_mode("ttt_sgd", model, stream, seq_len=32, stride=8, chunk_tokens=64, epochs=2, lr=0.0, collect_per_token=True)
    assert np.allclose(s.per_token_nll, t.per_token_nll, rtol=0, atol=1e-12)
    assert t.details["optimizer_steps"] > 0  # it did run updates, they just changed nothing


def test_ttt_restores_weights_and_actually_adapts(model, stream):
    before = copy.deepcopy(model.state_dict())
    s = run_mode("sliding", model, stream, seq_len=32, stride=8)
    t = run_mode("ttt_sgd", model, stream, seq_len=32, stride=8, chunk_tokens=64, epochs=2, lr=0.05)
    assert t.val_loss != s.val_loss
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_ttt_reports_first_scores_built_only_from_earlier_chunks(stream):
    """s_0, not s_1: the NLL of chunk ci equals a plain sliding score of the model trained on chunks < ci."""
    C, L, s = 64, 32, 8
    cfg = dict(seq_len=L, stride=s, chunk_tokens=C, epochs=2, lr=0.05, cosine=False)
    model = TinyLM(vocab=V, seed=4)
    full = run_mode("ttt_sgd", model, stream, **cfg, collect_per_token=True).per_token_nll
    for ci in (0, 1, 3):
        trained = copy.deepcopy(model)
        if ci > 0:  # train exactly chunks 0..ci-1 with the same recipe and keep the weights
            prefix = EvalStream(stream.tokens[: ci * C + 1], stream.target_bytes[: ci * C])
            run_mode("ttt_sgd", trained, prefix, **cfg, adapt_last_chunk=True, restore_weights=False)
        ref = run_mode("sliding", trained, stream, seq_len=L, stride=s, collect_per_token=True).per_token_nll
        lo, hi = ci * C, (ci + 1) * C
        assert np.allclose(full[lo:hi], ref[lo:hi], rtol=0, atol=1e-12), f"chunk {ci}"


class SpyLM(TinyLM):
    """Logs what it is fed: (kind, grad_enabled, [(first, last) position of each batch row]).
    Streams for it hold token id ``p + 2`` at position ``p`` (BOS, id 1, elsewhere), so ids give
    positions back."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.log = []

    def forward_hidden(self, ids):
        h = super().forward_hidden(ids)
        rows = []
        for row in ids:
            pos = row[row > 1] - 2  # 0 is padding, 1 is BOS
            if pos.numel():  # a BOS at either end of the row sits right before/after its neighbours
                rows.append((int(pos.min()) - int(row[0] == 1), int(pos.max()) + int(row[row > 0][-1] == 1)))
        entry = ("forward", torch.is_grad_enabled(), rows)
        self.log.append(entry)
        if h.requires_grad:
            h.register_hook(lambda g, e=entry: self.log.append(("backward",) + e[1:]))
        return h


def unique_stream(n):
    toks = torch.arange(n) + 2
    toks[0] = 1
    return EvalStream.from_tokens(toks)


def test_instrumented_model_is_never_trained_before_it_is_scored():
    n, C = 321, 64
    spy = SpyLM(vocab=400, seed=5)
    st = unique_stream(n)
    r = run_mode("ttt_sgd", spy, st, seq_len=32, stride=8, chunk_tokens=C, epochs=2, lr=0.05)
    assert r.tokens == n - 1
    scored_upto = -1  # highest input position fed to a no-grad (scoring) forward so far
    trained = 0
    for kind, grad, rows in spy.log:
        pos_hi = max(hi for _, hi in rows)
        if kind == "forward" and not grad:
            scored_upto = max(scored_upto, pos_hi)
        if kind == "backward":
            trained += 1
            # inputs up to pos_hi train targets up to pos_hi, each predicted at its input position
            assert pos_hi <= scored_upto, f"trained on targets up to {pos_hi} with only {scored_upto} scored"
            assert pos_hi < (n - 1) // C * C, "the last chunk must never be trained on"
    assert trained > 0


def test_lora_ttt_with_zero_learning_rate_is_document_isolated_scoring(model):
    toks = random_stream_tokens(257, V, seed=6, mean_doc=30)
    st = EvalStream.from_tokens(toks)
    L, c = 24, 8
    r = run_mode("ttt_lora", model, st, seq_len=L, chunk=c, rank=2, lr=0.0, batch_docs=3, collect_per_token=True)
    bos = [i for i in range(256) if int(toks[i]) == 1]
    ref = np.zeros(256)
    with torch.no_grad():
        for d, lo in enumerate(bos):
            hi = bos[d + 1] if d + 1 < len(bos) else 256
            for j in range(lo, hi):
                ce = min(lo + ((j - lo) // c + 1) * c, hi)  # end of the chunk holding j
                ws = max(lo, ce - L)
                logp = torch.log_softmax(model.forward_logits(toks[ws : j + 1][None])[0, -1], -1)
                ref[j] = -float(logp[toks[j + 1]])
    assert np.allclose(r.per_token_nll, ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("mode,cfg", [
    ("ttt_lora", dict(seq_len=24, chunk=8, rank=2, lr=0.05)),
    ("ttt_phased", dict(seq_len=24, chunk=8, rank=2, lr=0.05, prefix_docs=4, num_phases=2, global_seq_len=16, global_chunk_tokens=32, global_lr=0.05)),
])
def test_document_ttt_is_independent_of_batching(model, mode, cfg):
    st = EvalStream.from_tokens(random_stream_tokens(257, V, seed=7, mean_doc=30))
    a = run_mode(mode, model, st, **cfg, batch_docs=1, collect_per_token=True)
    b = run_mode(mode, model, st, **cfg, batch_docs=16, collect_per_token=True)
    assert np.allclose(a.per_token_nll, b.per_token_nll, rtol=0, atol=1e-10)
    lr0 = run_mode(mode, model, st, **{**cfg, "lr": 0.0, **({"global_lr": 0.0} if mode == "ttt_phased" else {})})
    assert a.val_loss != lr0.val_loss  # the adaptation did something


def test_phased_global_sgd_trains_only_documents_already_scored():
    spy = SpyLM(vocab=400, seed=8)
    toks = torch.arange(240) + 2
    toks[[0, 50, 100, 150, 200]] = 1  # 5 documents
    st = EvalStream.from_tokens(toks)
    cfg = dict(seq_len=12, chunk=4, rank=2, lr=0.05, prefix_docs=4, num_phases=2, global_seq_len=20,
               global_chunk_tokens=40, global_lr=0.05, batch_docs=2)
    r = run_mode("ttt_phased", spy, st, **cfg, collect_per_token=True)
    assert r.details["phase_boundaries"] == [2, 4] and r.details["global_steps"] > 0
    seen = set()  # positions fed to per-document (scoring) forwards so far; their width is <= 12
    global_backwards = 0
    for kind, grad, rows in spy.log:
        is_global = all(hi - lo >= 18 for lo, hi in rows)  # rows of 20-token sequences (a BOS may be dropped)
        if kind == "forward" and not is_global:
            for lo, hi in rows:
                seen.update(range(lo, hi + 1))
        if kind == "backward" and is_global:
            global_backwards += 1
            for lo, hi in rows:
                missing = set(range(lo, hi + 1)) - seen
                assert not missing, f"global SGD trained on unscored positions {sorted(missing)[:5]}"
                assert hi < 200, "global SGD may only use the prefix documents"
    assert global_backwards > 0
    # documents before the first boundary were scored before any global update: same as plain LoRA TTT
    lora = run_mode("ttt_lora", spy, st, **{k: v for k, v in cfg.items() if not k.startswith(("global", "prefix", "num_"))},
                    collect_per_token=True)
    assert np.allclose(r.per_token_nll[:100], lora.per_token_nll[:100], rtol=0, atol=1e-12)
    assert not np.allclose(r.per_token_nll[100:], lora.per_token_nll[100:])


def test_lora_mode_refuses_a_model_without_targets():
    class NoTargets(LogitsOnly):
        def lora_targets(self):
            return {}

    st = EvalStream.from_tokens(random_stream_tokens(65, V))
    with pytest.raises(UsageError):
        run_mode("ttt_lora", NoTargets(TinyLM(vocab=V)), st, seq_len=16, chunk=8)


def test_unknown_settings_are_errors(model, stream):
    with pytest.raises(UsageError):
        run_mode("sliding", model, stream, seq_len=32, strde=8)
    with pytest.raises(UsageError):
        run_mode("ttt_sgd", model, stream, chunk=8)


def test_fixed_shape_padding_for_compiled_forward_scores_the_same(model, stream, monkeypatch):
    """With compile on, the last batch is padded with windows that score nothing."""
    calls = []

    def fake_compile(fn, **kw):  # stand-in for torch.compile: same function, records the shapes
        def wrapped(x):
            calls.append(tuple(x.shape))
            return fn(x)
        return wrapped

    monkeypatch.setattr(torch, "compile", fake_compile)
    a = run_mode("sliding", model, stream, seq_len=32, stride=8, batch_windows=7, collect_per_token=True)
    b = run_mode("sliding", model, stream, seq_len=32, stride=8, batch_windows=7, compile=True, collect_per_token=True)
    assert len(set(calls)) == 1 and calls[0][0] == 7
    assert b.tokens == a.tokens and np.allclose(a.per_token_nll, b.per_token_nll, rtol=0, atol=1e-12)
