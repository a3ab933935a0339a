"""Evaluator speed: a record's own evaluation code against the harness's, same model, tokens and GPU.

    python bench/eval_speed.py --clone PATH/TO/parameter-golf --data-dir DIR [--cases sliding_sp1024,sliding_1493,ttt_qk5]

``--clone`` is a local checkout or git dir of openai/parameter-golf (records are read from it at run
time, never committed here). ``--data-dir`` holds ``docs.jsonl`` (FineWeb documents) and the
``fineweb_1024_bpe.model`` / ``fineweb_8192_bpe.model`` tokenizers; documents are tokenized and
repeated to ``--tokens``. Models get random weights. Each case runs the record's evaluator and the
harness's in one process, checks that the losses agree, measures a bf16 matmul ceiling in the same
run and prints a table (tokens/s, MFU, val_loss, speed-up). ``--tiny`` shrinks everything to run on
a CPU (a logic check, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import pg_records  # noqa: E402
from harness.engine.api import run_mode  # noqa: E402
from harness.engine.stream import EvalStream  # noqa: E402
from harness.tokenizer.luts import build_byte_tables, load_sentencepiece  # noqa: E402

RECORDS = {
    "sliding_sp1024": "records/track_10min_16mb/2026-03-19_SlidingWindowEval/train_gpt.py",
    "sliding_1493": "records/track_10min_16mb/2026-04-09_SP8192_3LayerRecur_ParResid_QK525_LegalTTT/train_gpt.py",
    "ttt_qk5": "records/track_10min_16mb/2026-04-06_SP8192_QK5_LegalTTT_1.0828/train_gpt.py",
}
TINY_ENV = {"NUM_LAYERS": "3", "MODEL_DIM": "64", "NUM_HEADS": "4", "NUM_KV_HEADS": "2", "EMBEDDING_DIM": "64",
            "MLP_MULT": "2", "LOOP_START": "1", "LOOP_END": "1", "XSA_LAST_N": "1", "ROPE_DIMS": "8"}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(device, fn):
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t0


def matmul_ceiling(device, tiny: bool) -> float:
    """bf16 TFLOP/s of a large square matmul, measured now (the MFU denominator)."""
    n = 256 if tiny else 8192
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    reps = 3 if tiny else 20
    _, sec = timed(device, lambda: [a @ b for _ in range(reps)])
    return 2 * n**3 * reps / sec / 1e12


def window_flops(model, seq_len: int, device) -> float:
    """FLOPs of one window forward through the record's own forward_logits (full head)."""
    from torch.utils.flop_counter import FlopCounterMode

    ids = torch.zeros(1, seq_len, dtype=torch.long, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model.forward_logits(ids)
    return float(fc.get_total_flops())


def tokens_for(data_dir: Path, vocab: int, n_tokens: int) -> tuple[np.ndarray, Path]:
    from harness.data.docs import iter_documents

    tok_path = data_dir / f"fineweb_{vocab}_bpe.model"
    sp = load_sentencepiece(tok_path)
    ids = np.concatenate([[sp.bos_id()] + sp.encode(d) for d in iter_documents(data_dir / "docs.jsonl")])
    reps = math.ceil(n_tokens / ids.size)
    return np.tile(ids, reps)[:n_tokens].astype(np.int64), tok_path


def randomize(model: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)


def luts(tok_path: Path, vocab: int, device):
    t = build_byte_tables(load_sentencepiece(tok_path), vocab)
    return (torch.tensor(t.base_bytes, device=device), torch.tensor(t.has_leading_space, device=device),
            torch.tensor(t.is_boundary, device=device))


class ValData:  # the attributes the April records' evaluators read
    def __init__(self, tokens: torch.Tensor, lut):
        self.val_tokens = tokens
        self.base_bytes_lut, self.has_leading_space_lut, self.is_boundary_token_lut = lut


HARNESS_SDPA = "default"


def harness_ctx():
    """The attention backend the harness rows run under (the record rows always use the default)."""
    import contextlib

    if HARNESS_SDPA != "cudnn":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION], set_priority=True)


def run_harness(*args, **kw):
    with harness_ctx():
        return run_mode(*args, **kw)


def row(name, tokens, sec, loss, flops_per_token, ceiling):
    tps = tokens / sec
    return {"method": name, "tokens": tokens, "seconds": round(sec, 3), "tokens_per_s": round(tps),
            "mfu": round(tps * flops_per_token / (ceiling * 1e12), 4), "val_loss": loss}


def case_sliding_sp1024(args, device, ceiling, work):
    L, s = (64, 16) if args.tiny else (1024, 64)
    if args.tiny:
        os.environ.update({**TINY_ENV, "TRAIN_SEQ_LEN": str(L)})
    mod = pg_records.import_record(args.clone, RECORDS["sliding_sp1024"], work, "rec_sliding_sp1024")
    hp = mod.Hyperparameters
    gpt = mod.GPT(vocab_size=hp.vocab_size, num_layers=hp.num_layers, model_dim=hp.model_dim, num_heads=hp.num_heads,
                  num_kv_heads=hp.num_kv_heads, mlp_mult=hp.mlp_mult, tie_embeddings=hp.tie_embeddings,
                  tied_embed_init_std=hp.tied_embed_init_std, logit_softcap=hp.logit_softcap, rope_base=hp.rope_base,
                  qk_gain_init=hp.qk_gain_init).to(device)
    randomize(gpt)
    gpt.eval()
    toks, tok_path = tokens_for(Path(args.data_dir), hp.vocab_size, args.tokens)
    toks = toks[: ((toks.size - 1) // L) * L + 1]  # the challenge's truncation
    val = torch.from_numpy(toks).to(device)
    lut = luts(tok_path, hp.vocab_size, device)
    model = pg_records.BaselineFamilyModel(gpt)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        model.check(val[: 2 * L].view(2, L))
    T = toks.size - 1
    flops_tok = window_flops(gpt, L, device) / s
    stream = EvalStream.from_tokens(toks, tables=build_byte_tables(load_sentencepiece(tok_path), hp.vocab_size))
    rows = []
    warm = val[: 8 * L + 1]
    for b in args.record_batches:
        hp.train_seq_len = L
        mod.eval_val_sliding(hp, gpt, 0, 1, device, warm, *lut, stride=s, batch_seqs=b)
        (loss, _), sec = timed(device, lambda: mod.eval_val_sliding(hp, gpt, 0, 1, device, val, *lut, stride=s, batch_seqs=b))
        rows.append(row(f"record eval_val_sliding, batch {b}", T, sec, loss, flops_tok, ceiling))
    amp = torch.bfloat16 if device.type == "cuda" else None
    plain = dict(seq_len=L, stride=s, batch_windows=args.batch, autocast_dtype=amp)
    run_harness("sliding", _LogitsOnly(gpt), EvalStream.from_tokens(toks[: 8 * L + 1]), **plain)
    r, sec = timed(device, lambda: run_harness("sliding", _LogitsOnly(gpt), stream, **plain))
    rows.append(row(f"harness, full logits, no compile, batch {args.batch}", T, sec, r.val_loss, flops_tok, ceiling))
    fast = dict(plain, compile=not args.tiny, collect_per_token=True)
    run_harness("sliding", model, EvalStream.from_tokens(toks[: (args.batch + 4) * s + L + 1]), **fast)
    r, sec = timed(device, lambda: run_harness("sliding", model, stream, **fast))
    rows.append(row(f"harness, scored-position head, compiled, batch {args.batch}", T, sec, r.val_loss, flops_tok, ceiling))
    # The record's v1 windows re-score the last `stride` targets in L/stride - 1 partial windows, each
    # with a shorter context. Adding exactly those extra contributions (scored by the same model) to
    # the harness's per-target NLL must reproduce the record's number.
    extra_sum, extra_n = v1_tail_extra(gpt, val, T, L, s, device)
    v1 = (r.per_token_nll.sum() + extra_sum) / (T + extra_n)
    return {"case": "sliding_sp1024", "record": RECORDS["sliding_sp1024"], "seq_len": L, "stride": s, "targets": T,
            "flops_per_token": flops_tok, "rows": rows,
            "harness_v1_weighted_loss": float(v1), "record_loss": rows[0]["val_loss"],
            "loss_rel_diff_v1_weighted": abs(float(v1) - rows[0]["val_loss"]) / rows[0]["val_loss"]}


@torch.no_grad()
def v1_tail_extra(gpt, val, T, L, s, device):
    total, n = 0.0, 0
    for ws in range(T - L + s, T, s):
        wlen = T - ws
        x, y = val[ws:T][None], val[ws + 1 : T + 1]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = gpt.forward_logits(x)[0]
        nll = torch.nn.functional.cross_entropy(logits.float(), y, reduction="none")
        start = max(wlen - s, 0)
        total += float(nll[start:].double().sum())
        n += wlen - start
    return total, n


class _LogitsOnly(torch.nn.Module):
    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt

    def forward_logits(self, ids):
        return self.gpt.forward_logits(ids)


def _april_model(args, device, work, key):
    L = 64 if args.tiny else 2048
    if args.tiny:
        os.environ.update({**TINY_ENV, "TRAIN_SEQ_LEN": str(L), "EVAL_SEQ_LEN": str(L), "TTT_CHUNK_TOKENS": str(4 * L)})
    mod = pg_records.import_record(args.clone, RECORDS[key], work, f"rec_{key}")
    h = mod.Hyperparameters()
    h.logfile = None
    mod.set_logging_hparams(h)
    gpt = mod.GPT(h).to(device)
    randomize(gpt)
    if hasattr(gpt, "looping_active"):
        gpt.looping_active = h.num_loops > 0  # records evaluate with the loop switched on
    gpt.eval()
    return mod, h, gpt, L


def case_sliding_1493(args, device, ceiling, work):
    mod, h, gpt, L = _april_model(args, device, work, "sliding_1493")
    s = h.eval_stride if not args.tiny else 16
    h.eval_stride = s
    toks, tok_path = tokens_for(Path(args.data_dir), h.vocab_size, args.tokens)
    toks = toks[: ((toks.size - 1) // L) * L + 1]
    val = torch.from_numpy(toks).to(device)
    vd = ValData(val, luts(tok_path, h.vocab_size, device))
    model = pg_records.BaselineFamilyModel(gpt)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        model.check(val[: 2 * L].view(2, L))
    T = toks.size - 1
    flops_tok = window_flops(gpt, L, device) / s
    stream = EvalStream.from_tokens(toks, tables=build_byte_tables(load_sentencepiece(tok_path), h.vocab_size))
    rows = []
    mod.eval_val_sliding(h, device, ValData(val[: 4 * L + 1], (vd.base_bytes_lut, vd.has_leading_space_lut, vd.is_boundary_token_lut)), gpt)
    (loss, _), sec = timed(device, lambda: mod.eval_val_sliding(h, device, vd, gpt))
    rows.append(row("record eval_val_sliding, batch 32", T, sec, loss, flops_tok, ceiling))
    amp = torch.bfloat16 if device.type == "cuda" else None
    batches = [args.batch_2048] + [int(b) for b in args.extra_batches_2048.split(",") if b]
    for compile_mode in args.compile_modes:
        for batch in batches:
            fast = dict(seq_len=L, stride=s, batch_windows=batch, autocast_dtype=amp,
                        compile=False if args.tiny else compile_mode)
            run_harness("sliding", model, EvalStream.from_tokens(toks[: (batch + 4) * s + L + 1]), **fast)
            r, sec = timed(device, lambda: run_harness("sliding", model, stream, **fast))
            rows.append(row(f"harness, scored-position head, compile={compile_mode}, batch {batch}", T, sec,
                            r.val_loss, flops_tok, ceiling))
    return {"case": "sliding_1493", "record": RECORDS["sliding_1493"], "seq_len": L, "stride": s, "targets": T,
            "flops_per_token": flops_tok, "rows": rows,
            "loss_rel_diff": max(abs(r["val_loss"] - loss) / loss for r in rows[1:])}


def case_ttt_qk5(args, device, ceiling, work):
    mod, h, gpt, L = _april_model(args, device, work, "ttt_qk5")
    s = 16 if args.tiny else h.eval_stride
    C = h.ttt_chunk_tokens
    n_tokens = C * args.ttt_chunks + 1
    toks, tok_path = tokens_for(Path(args.data_dir), h.vocab_size, n_tokens)
    val = torch.from_numpy(toks).to(device)
    vd = ValData(val, luts(tok_path, h.vocab_size, device))
    stream = EvalStream.from_tokens(toks, tables=build_byte_tables(load_sentencepiece(tok_path), h.vocab_size))
    T = toks.size - 1
    state = {k: v.clone() for k, v in gpt.state_dict().items()}
    flops_tok = window_flops(gpt, L, device) / s
    rows = []
    # Both sides compile; warm each up on a 3-chunk stream first so steady-state speed is what is timed.
    warm = ValData(val[: 3 * C + 1], (vd.base_bytes_lut, vd.has_leading_space_lut, vd.is_boundary_token_lut))
    mod.eval_val_sliding_ttt(h, gpt, 0, 1, device, warm, stride=s)
    gpt.load_state_dict(state)
    (loss, _), sec = timed(device, lambda: mod.eval_val_sliding_ttt(h, gpt, 0, 1, device, vd, stride=s))
    rows.append(row("record eval_val_sliding_ttt", T, sec, loss, flops_tok, ceiling))
    gpt.load_state_dict(state)
    for p in gpt.parameters():
        p.requires_grad_(True)
    model = pg_records.BaselineFamilyModel(gpt)
    amp = torch.bfloat16 if device.type == "cuda" else None
    for compile_mode in args.compile_modes:
        cfg = dict(seq_len=L, stride=s, chunk_tokens=C, epochs=h.ttt_epochs, lr=h.ttt_lr, momentum=h.ttt_momentum,
                   freeze_blocks=h.ttt_freeze_blocks, grad_clip=h.ttt_grad_clip, batch_seqs=h.ttt_batch_seqs,
                   block_prefix="gpt.blocks.", batch_windows=args.batch_2048, autocast_dtype=amp,
                   compile=False if args.tiny else compile_mode)
        run_harness("ttt_sgd", model, EvalStream.from_tokens(toks[: 3 * C + 1]), **cfg)
        r, sec = timed(device, lambda: run_harness("ttt_sgd", model, stream, **cfg))
        rows.append(row(f"harness ttt_sgd, compile={compile_mode}", T, sec, r.val_loss, flops_tok, ceiling))
    return {"case": "ttt_qk5", "record": RECORDS["ttt_qk5"], "seq_len": L, "stride": s, "chunks": args.ttt_chunks,
            "targets": T, "rows": rows, "loss_rel_diff": max(abs(r["val_loss"] - loss) / loss for r in rows[1:]),
            "note": "both sides warmed up (compiled) on a 3-chunk stream before the timed run"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clone", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--cases", default="sliding_sp1024,sliding_1493,ttt_qk5")
    ap.add_argument("--tokens", type=int, default=2_000_000)
    ap.add_argument("--batch", type=int, default=256, help="harness windows per batch at window 1024")
    ap.add_argument("--batch-2048", type=int, default=64, help="harness windows per batch at window 2048")
    ap.add_argument("--extra-batches-2048", default="", help="more harness batch sizes to time at window 2048")
    ap.add_argument("--record-batches", default="32,128")
    ap.add_argument("--ttt-chunks", type=int, default=12)
    ap.add_argument("--compile-modes", default="default", help="torch.compile modes for the harness rows at 2048, e.g. default,reduce-overhead")
    ap.add_argument("--sdpa", default="default", choices=["default", "cudnn"],
                    help="attention backend for both sides (cudnn: prefer cuDNN's fused attention, then flash)")
    ap.add_argument("--harness-sdpa", default="default", choices=["default", "cudnn"],
                    help="attention backend for the harness rows only")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.record_batches = [int(b) for b in args.record_batches.split(",")]
    args.compile_modes = args.compile_modes.split(",")
    global HARNESS_SDPA
    HARNESS_SDPA = args.harness_sdpa
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    if args.tiny:
        args.tokens, args.batch, args.batch_2048, args.ttt_chunks = min(args.tokens, 4000), 16, 8, 3
        args.record_batches = [4]
    ceiling = matmul_ceiling(device, args.tiny)
    info = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "torch": torch.__version__,
            "matmul_ceiling_tflops": round(ceiling, 1), "cases": []}
    print(f"device {info['device']}, torch {torch.__version__}, bf16 matmul ceiling {ceiling:.1f} TFLOP/s", flush=True)
    cases = {"sliding_sp1024": case_sliding_sp1024, "sliding_1493": case_sliding_1493, "ttt_qk5": case_ttt_qk5}
    info["sdpa"], info["harness_sdpa"] = args.sdpa, args.harness_sdpa
    import contextlib

    backend_ctx = contextlib.nullcontext()
    if args.sdpa == "cudnn":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        backend_ctx = sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION], set_priority=True)
    with tempfile.TemporaryDirectory() as work, backend_ctx:
        for name in args.cases.split(","):
            try:
                res = cases[name](args, device, ceiling, work)
            except Exception:  # one broken case must not hide the others' figures
                import traceback

                traceback.print_exc()
                info["cases"].append({"case": name, "error": traceback.format_exc()[-2000:]})
                continue
            res["fa3_shim"] = pg_records.SHIM_USED
            info["cases"].append(res)
            base = res["rows"][0]["tokens_per_s"]
            print(f"\n== {name} (sdpa {args.sdpa}, harness sdpa {args.harness_sdpa}): {res['record']} (L={res['seq_len']}, stride={res['stride']}, {res['targets']} targets)")
            print(f"{'method':58s} {'tokens/s':>10s} {'MFU':>7s} {'val_loss':>12s} {'x record':>9s}")
            for r in res["rows"]:
                print(f"{r['method']:58s} {r['tokens_per_s']:>10d} {r['mfu']:>7.3f} {r['val_loss']:>12.8f} {r['tokens_per_s'] / base:>9.2f}")
            extra = {k: v for k, v in res.items() if "loss" in k and k != "rows"}
            print("   ", json.dumps(extra), "FA3 shim (SDPA):", res["fa3_shim"], flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
