"""Train the reference model and write a records-style submission folder.

    python -m reference_model.train --preset NAME --data DIR --out FOLDER [--seeds 1337,42,2025]
                                    [--tokenizer T.model] [--set section.field=value ...]
    torchrun --standalone --nproc_per_node=8 -m reference_model.train ...   (NCCL on GPU, gloo on CPU)

Per seed: train (wallclock- or step-capped, warmdown, Muon/AdamW, EMA, recurrence switched on at
its fraction), quantize (GPTQ + SDClip), serialize, check the size, rebuild the model from the
artifact and score it with the harness's evaluators (round trip, sliding window, score-first TTT).
The logs use the challenge's line formats, so ``harness evaluate --offline FOLDER`` audits them.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

from reference_model import invariants as inv
from reference_model.bundle import build_script, code_bytes
from reference_model.config import Preset, apply_overrides, preset
from reference_model.data import SequenceLoader, find_tokenizer, micro_batches
from reference_model.export import deserialize, serialize
from reference_model.gpt import GPT, count_parameters
from reference_model.optim import build_optimizers, route_parameters
from reference_model.plan import describe, max_passes
from reference_model.quant import collect_hessians, dequantize_state, expected_calls, quantize_state


class Run:
    """Process-level context: device, ranks, logging to stdout and the seed's log file."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.log_file = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    def log(self, line: str) -> None:
        if not self.main:
            return
        print(line, flush=True)
        if self.log_file is not None:
            with open(self.log_file, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def all_reduce_max(self, value: float) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], device=self.device, dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())


def autocast(run: Run, p: Preset):
    if run.device.type == "cuda" and p.train.dtype == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def all_reduce_grads(model: torch.nn.Module, world: int) -> None:
    """Average every gradient across ranks in one flat buffer; parameters the current graph did not
    use (adapters before looping) get zero gradients so every rank sends the same layout."""
    params = [q for q in model.parameters() if q.requires_grad]
    for q in params:
        if q.grad is None:
            q.grad = torch.zeros_like(q)
    if world == 1:
        return
    flat = torch.cat([q.grad.reshape(-1).float() for q in params])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for q in params:
        n = q.numel()
        q.grad.copy_(flat[offset : offset + n].view_as(q.grad))
        offset += n


def optimizer_step(run: Run, p: Preset, model: GPT, opts: list, batch: torch.Tensor, accum: int, forward=None) -> float:
    """One optimizer step on a global batch of sequences: this rank's micro-batches, gradient
    averaging across ranks, global clipping, every optimizer. Returns this rank's summed loss.
    ``forward`` is the (possibly compiled) callable that computes the loss; default the model."""
    loss_sum = 0.0
    forward = model if forward is None else forward
    for x, y in micro_batches(batch, run.world, run.rank, accum):
        with autocast(run, p):
            loss = forward(x.to(run.device), y.to(run.device), fused_ce=p.train.fused_ce) / accum
        loss.backward()
        loss_sum += float(loss.detach())
    all_reduce_grads(model, run.world)
    torch.nn.utils.clip_grad_norm_([q for q in model.parameters() if q.requires_grad], p.train.grad_clip)
    for o in opts:
        o.step()
    model.zero_grad(set_to_none=True)
    return loss_sum


def lr_multiplier(p: Preset, frac: float) -> float:
    w = p.train.warmdown_frac
    if frac < 1 - w:
        return 1.0
    return max((1 - frac) / w, p.train.min_lr)


def active_passes_at(p: Preset, frac: float) -> int:
    r = p.model.recur
    if r.mode == "none":
        return 1
    if r.pass_schedule:
        passes = 1
        for f, n in r.pass_schedule:
            if frac >= f:
                passes = n
        return passes
    return max_passes(p.model) if frac >= r.enable_at else 1


def train_seed(run: Run, p: Preset, data_dir: Path, seed: int, out: Path, script: str, tokenizer: Path) -> dict:
    from harness.engine.api import run_mode
    from harness.engine.stream import EvalStream

    t = p.train
    torch.manual_seed(seed)
    model = GPT(p.model).to(run.device)
    routes = route_parameters(model, p)
    inv.check_routing(model, routes)
    inv.check_recurrence_schedule(p)
    inv.check_adapter_init(model)
    opts = build_optimizers(routes, p)
    if t.fused_mlp:
        for b in model.blocks:
            b.mlp.fused = True
    accum = t.grad_accum or (max(1, 8 // run.world) if run.device.type == "cuda" else 1)
    seqs_per_step = t.batch_tokens // t.seq_len
    loader = SequenceLoader(data_dir, t.seq_len, seed)
    ema = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    n_params = count_parameters(model)
    run.log(f"seed:{seed}")
    run.log(f"preset:{p.name} params:{n_params} world_size:{run.world} grad_accum:{accum} device:{run.device.type}")
    for name, section in (("model", p.model), ("train", t), ("quant", p.quant), ("eval", p.eval)):
        for k, v in vars(section).items():
            if not isinstance(v, (dict, list)) and not hasattr(v, "__dataclass_fields__"):
                run.log(f"  {name}.{k}: {v}")
    run.log(f"plan at start: {describe(model.plan)}")
    forward = torch.compile(model, dynamic=False) if t.compile else model
    if t.warmup_steps:
        # compile (and warm) every graph variant before the clock starts, then put everything back
        saved = copy.deepcopy(model.state_dict()), [copy.deepcopy(o.state_dict()) for o in opts]
        start_passes = model.active_passes
        variants = sorted({start_passes, max_passes(p.model)} | {n for _, n in p.model.recur.pass_schedule})
        for n in variants:
            model.set_active_passes(n)
            for _ in range(t.warmup_steps):
                optimizer_step(run, p, model, opts, loader.next_sequences(seqs_per_step), accum, forward)
            run.log(f"warmup: {t.warmup_steps} steps with {n} pass(es)")
        model.load_state_dict(saved[0])
        for o, st in zip(opts, saved[1]):
            o.load_state_dict(st)
        model.set_active_passes(start_passes)
        loader = SequenceLoader(data_dir, t.seq_len, seed)
    budget = (t.max_wallclock_s - t.gptq_reserve_s) if t.max_wallclock_s else None
    train_s, step, stop = 0.0, 0, False
    passes = model.active_passes
    while not stop:
        frac = min(train_s / budget, 1.0) if budget else step / t.iterations
        want = active_passes_at(p, frac)
        if want != passes:
            model.set_active_passes(want)
            passes = want
            run.log(f"step:{step} recurrence: {passes} passes, plan {describe(model.plan)}")
        mul = lr_multiplier(p, frac)
        for o in opts:
            for g in o.param_groups:
                g["lr"] = g["base_lr"] * mul
        if opts and routes.muon:
            start, steps = t.muon_momentum_warmup
            m = start + (t.muon_momentum - start) * min(1.0, step / max(1, steps))
            for g in opts[0].param_groups:
                g["momentum"] = m
        if run.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss_sum = optimizer_step(run, p, model, opts, loader.next_sequences(seqs_per_step), accum, forward)
        with torch.no_grad():
            for k, v in model.state_dict().items():
                ema[k].mul_(t.ema_decay).add_(v.detach().float(), alpha=1 - t.ema_decay)
        if run.device.type == "cuda":
            torch.cuda.synchronize()
        train_s += time.perf_counter() - t0
        step += 1
        if run.world > 1:
            loss_t = torch.tensor([loss_sum], device=run.device)
            dist.all_reduce(loss_t)
            loss_sum = float(loss_t) / run.world
        if step % t.log_every == 0 or step <= 5 or step == t.iterations:
            run.log(f"step:{step}/{t.iterations} train_loss:{loss_sum:.4f} train_time:{int(train_s * 1000)}ms "
                    f"step_avg:{train_s * 1000 / step:.2f}ms")
        capped = budget is not None and run.all_reduce_max(float(train_s >= budget)) > 0
        if capped:
            run.log(f"stopping_early: wallclock_cap train_time:{int(train_s * 1000)}ms step:{step}/{t.iterations}")
        stop = capped or step >= t.iterations
    final_passes = p.model.recur.eval_passes or max_passes(p.model)
    if passes != final_passes and p.model.recur.mode != "none":
        run.log(f"recurrence: {passes} active passes at the end of training, configured {final_passes}")
    inv.check_active_at_end(model, p)
    peak = torch.cuda.max_memory_allocated() // 2**20 if run.device.type == "cuda" else 0
    run.log(f"peak memory allocated: {peak} MiB; tokens/s: {step * t.batch_tokens / max(train_s, 1e-9):.0f}")
    with torch.no_grad():
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in ema.items()})
    model.eval()
    stream = EvalStream.from_dataset(data_dir, tokenizer, seq_len=p.eval.seq_len, vocab_size=p.model.vocab_size)
    settings = dict(autocast_dtype=torch.bfloat16 if run.device.type == "cuda" and t.dtype == "bf16" else None)
    pre = run_mode("flat", model, stream, seq_len=p.eval.seq_len, **settings)
    run.log(f"pre-quantization post-ema val_loss:{pre.val_loss:.8f} val_bpb:{pre.val_bpb:.8f} eval_time:{int(pre.seconds * 1000)}ms")

    # -------------------------------------------------------------- export
    t0 = time.perf_counter()
    calib = [micro_batches(loader.next_sequences(seqs_per_step), run.world, run.rank, accum)[0][0].to(run.device)
             for _ in range(p.quant.calibration_batches)] if p.quant.gptq else []
    with autocast(run, p):
        rec = collect_hessians(model, calib, p.quant)
    if p.quant.gptq:
        inv.check_hessian_calls(rec.calls, expected_calls(model, len(calib), p.quant))
    qstate = quantize_state(model, p.quant, rec.hessians, log=run.log)
    meta = {"preset": p.name, "model": _jsonable(p.model)}
    blob = serialize(qstate, meta, p.quant.compressor)
    if run.world > 1:
        # every rank calibrated on its own micro-batches; score (and size) rank 0's artifact, the one written
        shared = [blob]
        dist.broadcast_object_list(shared, src=0)
        blob = shared[0]
    tag = f"int{p.quant.matrix_bits}+{p.quant.compressor}"
    run.log(f"quantize+serialize: {time.perf_counter() - t0:.1f}s")
    run.log(f"Serialized model {tag}: {len(blob)} bytes")
    run.log(f"Code size: {code_bytes(script)} bytes")
    run.log(f"Total submission size {tag}: {len(blob) + code_bytes(script)} bytes")
    inv.check_size(len(blob), code_bytes(script))
    artifact = out / f"final_model_seed{seed}.ptz"
    if run.main:
        from harness.atomic import atomic_write_bytes

        atomic_write_bytes(artifact, blob)

    # -------------------------------------------------------------- score the artifact
    scored = load_artifact(blob, run.device)
    inv.check_from_artifact(scored)
    results = {}
    rt = run_mode("flat", scored, stream, seq_len=p.eval.seq_len, **settings)
    run.log(f"final_{tag.replace('+', '_')}_roundtrip val_loss:{rt.val_loss:.4f} val_bpb:{rt.val_bpb:.4f} eval_time:{int(rt.seconds * 1000)}ms")
    run.log(f"final_{tag.replace('+', '_')}_roundtrip_exact val_loss:{rt.val_loss:.8f} val_bpb:{rt.val_bpb:.8f}")
    results["roundtrip"] = rt
    sl = run_mode("sliding", scored, stream, seq_len=p.eval.seq_len, stride=p.eval.stride, **settings)
    run.log(f"final_sliding_window val_loss:{sl.val_loss:.8f} val_bpb:{sl.val_bpb:.8f} stride:{p.eval.stride} eval_time:{int(sl.seconds * 1000)}ms")
    results["sliding"] = sl
    if p.eval.ttt:
        tt = run_mode("ttt_sgd", scored, stream, seq_len=p.eval.seq_len, stride=p.eval.stride, chunk_tokens=p.eval.ttt_chunk_tokens,
                      epochs=p.eval.ttt_epochs, lr=p.eval.ttt_lr, momentum=p.eval.ttt_momentum, **settings)
        run.log(f"legal_ttt val_loss:{tt.val_loss:.4f} val_bpb:{tt.val_bpb:.4f} eval_time:{int(tt.seconds * 1000)}ms")
        run.log(f"legal_ttt_exact val_loss:{tt.val_loss:.8f} val_bpb:{tt.val_bpb:.8f}")
        results["ttt"] = tt
    reported = results.get("ttt") or results["sliding"]
    return {"seed": seed, "val_bpb": reported.val_bpb, "val_loss": reported.val_loss, "steps": step,
            "train_time_s": train_s, "model_bytes": len(blob), "code_bytes": code_bytes(script), "params": n_params,
            "pre_quant_val_bpb": pre.val_bpb, "artifact": artifact.name, "eval_mode": "ttt" if "ttt" in results else "sliding"}


def _jsonable(obj):
    import dataclasses

    return json.loads(json.dumps(dataclasses.asdict(obj), default=list))


def load_artifact(blob: bytes, device: torch.device) -> GPT:
    """Rebuild the model from artifact bytes alone (config from the artifact's metadata)."""
    from reference_model.config import AdapterConfig, ModelConfig, RecurConfig

    qstate, meta = deserialize(blob)
    m = dict(meta["model"])
    recur, adapters = RecurConfig(**_tuples(m.pop("recur"))), AdapterConfig(**_tuples(m.pop("adapters")))
    cfg = ModelConfig(**_tuples(m), recur=recur, adapters=adapters)
    model = GPT(cfg)
    model.load_state_dict(dequantize_state(qstate, model.state_dict()))
    model.set_active_passes(cfg.recur.eval_passes or max_passes(cfg))
    model.loaded_from_artifact = True
    return model.to(device).eval()


def _tuples(d: dict) -> dict:
    """JSON lists back to the tuples the dataclasses use (nested for pass schedules)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, list):
            v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
            if k == "value_embed" and v:
                v = (v[0], tuple(v[1]))
        out[k] = v
    return out


def write_folder(out: Path, p: Preset, rows: list[dict], script: str, command: str) -> None:
    from harness.atomic import atomic_write_json, atomic_write_text

    mean = sum(r["val_bpb"] for r in rows) / len(rows)
    mean_loss = sum(r["val_loss"] for r in rows) / len(rows)
    worst = max(rows, key=lambda r: r["model_bytes"])
    atomic_write_text(out / "train_gpt.py", script)
    atomic_write_json(out / "submission.json", {
        "name": f"Reference recurrent-LoRA GPT ({p.name})",
        "author": "parameter-golf-harness reference model",
        "github_id": "parameter-golf-harness",
        "track": "10min_16mb" if p.train.max_wallclock_s else "non_record_16mb",
        "val_bpb": round(mean, 8),
        "val_loss": round(mean_loss, 8),
        "seeds": {str(r["seed"]): {"val_bpb": round(r["val_bpb"], 8), "val_loss": round(r["val_loss"], 8),
                                   "artifact_bytes": r["model_bytes"] + r["code_bytes"]} for r in rows},
        "bytes_total": worst["model_bytes"] + worst["code_bytes"],
        "bytes_code": worst["code_bytes"],
        "bytes_model": worst["model_bytes"],
    })
    lines = [f"# Reference recurrent-LoRA GPT: preset `{p.name}`", "", p.notes, "",
             f"Mean val_bpb over {len(rows)} seed(s): **{mean:.8f}** (reported metric: "
             f"{rows[0]['eval_mode']} on the model rebuilt from the artifact).", "",
             "| seed | steps | train s | pre-quant val_bpb | val_bpb | model bytes | code bytes |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['steps']} | {r['train_time_s']:.1f} | {r['pre_quant_val_bpb']:.6f} | {r['val_bpb']:.8f} | "
                     f"{r['model_bytes']:,} | {r['code_bytes']:,} |")
    lines += ["", f"Parameters: {rows[0]['params']:,}.", "", "Reproduce:", "", "```", command, "```", ""]
    atomic_write_text(out / "README.md", "\n".join(lines))


ENV_SETTINGS = {  # the challenge's environment variables, as the records' scripts read them
    "ITERATIONS": "train.iterations",
    "MAX_WALLCLOCK_SECONDS": "train.max_wallclock_s",
}


def _env_overrides(environ) -> list[str]:
    return [f"{field}={environ[name]}" for name, field in ENV_SETTINGS.items() if environ.get(name)]


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    ap = argparse.ArgumentParser(prog="reference_model.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="pr1552_fixed")
    ap.add_argument("--data", default=env.get("DATA_PATH"),
                    help="folder with fineweb_train_*.bin and fineweb_val_*.bin (default: $DATA_PATH)")
    ap.add_argument("--out", default=".", help="submission folder to write (default: the current folder)")
    ap.add_argument("--seeds", default=env.get("SEED", "1337"), help="comma-separated seeds, one train log each (default: $SEED)")
    ap.add_argument("--tokenizer", default=env.get("TOKENIZER_PATH"),
                    help="SentencePiece model for byte counts (default: $TOKENIZER_PATH, else found next to the data)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                    help="override a preset field; ITERATIONS and MAX_WALLCLOCK_SECONDS in the environment come last")
    args = ap.parse_args(argv)
    if not args.data:
        ap.error("--data (or DATA_PATH) is required")
    overrides = args.overrides + _env_overrides(env)
    p = apply_overrides(preset(args.preset), overrides)
    data_dir, out = Path(args.data), Path(args.out)
    tokenizer = Path(args.tokenizer) if args.tokenizer else find_tokenizer(data_dir, p.model.vocab_size)
    if tokenizer is None:
        print(f"train: no SentencePiece model with {p.model.vocab_size} pieces next to {data_dir} "
              "(pass --tokenizer or set model.vocab_size)", file=sys.stderr)
        return 2
    run = Run()
    out.mkdir(parents=True, exist_ok=True)
    # the script retrains this submission as configured here: preset and command-line overrides
    script = build_script(["--preset", args.preset] + [x for o in args.overrides for x in ("--set", o)])
    command = "python -m reference_model.train " + " ".join(sys.argv[1:] if argv is None else argv)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",") if s.strip()]:
        run.log_file = out / f"train_seed{seed}.log"
        if run.main and run.log_file.exists():
            run.log_file.unlink()
        rows.append(train_seed(run, p, data_dir, seed, out, script, tokenizer))
    if run.main:
        write_folder(out, p, rows, script, command)
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
