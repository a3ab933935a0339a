"""Per-document LoRA TTT, and phased TTT (per-document LoRA plus global SGD on scored documents).

Documents start at each BOS; document ``d`` owns targets ``[bos_d, bos_{d+1})`` (its own tokens and
the prediction of the next document's BOS), the last one runs to the end of the stream. Each
document gets a fresh LoRA (A random, seeded by the document index; B = 0) and a fresh AdamW. It is
read in chunks of ``chunk`` targets; for each chunk the evaluator runs one forward over the window
of at most ``seq_len`` tokens ending at the chunk's end (inside the document), adds the chunk's NLL
to the sums, and only then — if the document has a later chunk — takes one optimizer step on that
chunk's mean loss. The base model is frozen. Documents are batched (one LoRA per row, applied with
batched matmuls through forward hooks on the model's ``lora_targets()``), which does not change the
result: every document's adapter, optimizer state and loss are its own.

Phased TTT adds, after the first ``prefix_docs * (k + 1) // num_phases`` documents have been scored,
a global SGD pass over exactly those documents (base weights trainable), then carries on with fresh
adapters on the adapted base. Documents are processed in stream order, so which documents form the
prefix does not depend on timing or on the number of ranks.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

from harness.engine.evaluate import PerTokenNLL, RunOptions, _progress
from harness.engine.forward import autocast_for, probe_labels, window_batch
from harness.engine.ledger import ScoreLedger
from harness.engine.protocol import EvalModel, lora_targets, model_device, ttt_parameters
from harness.engine.registry import register_eval_mode
from harness.engine.scoring import EvalResult, ScoreSums, token_nll
from harness.engine.stream import EvalStream
from harness.engine.ttt_sgd import sequence_loss_sum
from harness.engine.windows import WindowPlan, rank_slice
from harness.errors import UsageError


@dataclass
class LoRATTTConfig:
    seq_len: int = 1024  # longest window a chunk is scored with (context stays inside the document)
    chunk: int = 256
    rank: int = 8
    alpha: float | None = None  # output scaled by alpha / rank; None = 1
    lr: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-10
    weight_decay: float = 0.0
    batch_docs: int = 64
    seed: int = 0


@dataclass
class PhasedTTTConfig(LoRATTTConfig):
    prefix_docs: int = 2000
    num_phases: int = 3
    global_lr: float = 0.001
    global_momentum: float = 0.9
    global_epochs: int = 1
    global_chunk_tokens: int = 32768
    global_seq_len: int = 2048
    global_batch_seqs: int = 32
    global_grad_clip: float = 1.0
    restore_weights: bool = True


def find_documents(tokens: Tensor, bos_id: int) -> np.ndarray:
    """[D, 2] target ranges [lo, hi) of each document (see module docstring)."""
    toks = tokens.cpu().numpy()
    T = toks.size - 1
    bos = np.flatnonzero(toks[:-1] == bos_id) if T > 0 else np.zeros(0, np.int64)
    starts = bos.tolist()
    if not starts or starts[0] != 0:
        starts = [0] + starts
    ends = starts[1:] + [T]
    return np.array([(s, e) for s, e in zip(starts, ends) if e > s], dtype=np.int64).reshape(-1, 2)


class BatchedLoRA:
    """One rank-r adapter per batch row on each target linear: y += scale * (x A_b^T) B_b^T."""

    def __init__(self, targets: dict[str, nn.Linear], rows: int, cfg: LoRATTTConfig, doc_ids: np.ndarray, device):
        self.targets = targets
        self.scale = (cfg.alpha / cfg.rank) if cfg.alpha is not None else 1.0
        self.params: list[nn.Parameter] = []
        self.factors: dict[str, tuple[nn.Parameter, nn.Parameter]] = {}
        for name, lin in targets.items():
            out_f, in_f = lin.weight.shape
            a = torch.empty(rows, cfg.rank, in_f, dtype=lin.weight.dtype)
            bound = 1.0 / math.sqrt(in_f)
            for row, doc in enumerate(doc_ids):  # seeded per document: independent of batching and ranks
                g = torch.Generator().manual_seed(zlib.crc32(f"{cfg.seed}:{int(doc)}:{name}".encode()))
                a[row].uniform_(-bound, bound, generator=g)
            A = nn.Parameter(a.to(device))
            B = nn.Parameter(torch.zeros(rows, out_f, cfg.rank, dtype=lin.weight.dtype, device=device))
            self.factors[name] = (A, B)
            self.params += [A, B]
        self.active: Tensor | None = None
        self.handles = [lin.register_forward_hook(self._hook(name)) for name, lin in targets.items()]

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs, output):
            if self.active is None:
                return output
            x = inputs[0]
            if x.dim() != 3 or x.shape[0] != self.active.numel():
                raise UsageError(
                    f"LoRA target {name} received input of shape {tuple(x.shape)}; per-document LoRA needs "
                    f"[batch={self.active.numel()}, time, features] (the model must not flatten the batch)"
                )
            A, B = self.factors[name]
            a, b = A[self.active].to(x.dtype), B[self.active].to(x.dtype)
            return output + self.scale * torch.bmm(torch.bmm(x, a.transpose(1, 2)), b.transpose(1, 2))

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _chunk_windows(docs: np.ndarray, k: int, chunk: int, seq_len: int) -> tuple[np.ndarray, WindowPlan]:
    """Rows (into ``docs``) that have a chunk k, and the window scoring it for each."""
    lo, hi = docs[:, 0], docs[:, 1]
    cs = lo + k * chunk
    rows = np.flatnonzero(cs < hi)
    cs, ce = cs[rows], np.minimum(cs[rows] + chunk, hi[rows])
    ws = np.maximum(lo[rows], ce - seq_len)
    return rows, WindowPlan(ws, ce - ws, cs - ws, int(seq_len))


def _lora_pass(
    model: EvalModel,
    tokens_dev: Tensor,
    stream: EvalStream,
    docs: np.ndarray,
    doc_ids: np.ndarray,
    cfg: LoRATTTConfig,
    targets: dict[str, nn.Linear],
    sums: ScoreSums,
    ledger: ScoreLedger,
    per_token: PerTokenNLL,
    opts: RunOptions,
    bar,
) -> int:
    """Score-first LoRA TTT over a batch of documents; returns optimizer steps taken."""
    device = tokens_dev.device
    lora = BatchedLoRA(targets, len(docs), cfg, doc_ids, device)
    opt = torch.optim.AdamW(lora.params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    n_chunks = (docs[:, 1] - docs[:, 0] + cfg.chunk - 1) // cfg.chunk
    steps = 0
    try:
        for k in range(int(n_chunks.max())):
            rows, plan = _chunk_windows(docs, k, cfg.chunk, cfg.seq_len)
            lora.active = torch.as_tensor(rows, device=device)
            x, y, scored = window_batch(tokens_dev, plan)
            width = int(plan.lengths.max())
            x, y, scored = x[:, :width], y[:, :width], scored[:, :width]
            with autocast_for(device, opts.autocast_dtype):
                logits = model.forward_logits(x)
            nll = token_nll(logits, y)  # [rows, width], graph kept for the update below
            b_idx, pos_idx = scored.nonzero(as_tuple=True)
            chunk_nll = nll[b_idx, pos_idx]
            target_index_dev = torch.as_tensor(plan.starts, device=device)[b_idx] + pos_idx
            if per_token.probe_sink is not None:
                per_token.probe_sink.append(token_nll(logits[b_idx, pos_idx], probe_labels(target_index_dev, logits.shape[-1])))
            target_index = target_index_dev.cpu().numpy()
            # Score first: the chunk's NLL is committed before any step that uses it.
            ledger.record_scored(target_index)
            sums.add(chunk_nll, stream.bytes_of(target_index))
            per_token.add(target_index, chunk_nll)
            if bar is not None:
                bar.update(len(rows))
            train_rows = n_chunks[rows] > k + 1  # the last chunk of a document is never trained on
            if not train_rows.any():
                continue
            for r in np.flatnonzero(train_rows):
                ledger.require_scored(int(plan.starts[r] + plan.score_from[r]), int(plan.starts[r] + plan.lengths[r]), across_ranks=False)
            counts = scored.sum(dim=1).clamp(min=1).to(nll.dtype)
            per_doc_mean = (nll * scored).sum(dim=1) / counts
            loss = per_doc_mean[torch.as_tensor(train_rows, device=device)].sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
    finally:
        lora.remove()
    return steps


def _run_docs(
    model: EvalModel,
    stream: EvalStream,
    cfg: LoRATTTConfig,
    opts: RunOptions,
    *,
    phased: PhasedTTTConfig | None,
    mode_name: str,
    version: int,
) -> EvalResult:
    dist_ctx = opts.dist_ctx()
    t0 = time.perf_counter()
    if cfg.chunk > cfg.seq_len:
        raise UsageError(f"chunk ({cfg.chunk}) must not exceed seq_len ({cfg.seq_len})")
    targets = lora_targets(model)
    if not targets:
        raise UsageError("per-document LoRA TTT needs a model that names its lora_targets() (nn.Linear layers)")
    device = model_device(model)
    tokens_dev = stream.tokens.to(device)
    docs = find_documents(stream.tokens, stream.bos_id)
    sums, ledger = ScoreSums(), ScoreLedger(stream.num_targets, dist_ctx, opts.trace)
    per_token = PerTokenNLL(stream.num_targets, opts)

    base_params = ttt_parameters(model)
    requires = [p.requires_grad for p in base_params]
    snapshot = [p.detach().clone() for p in base_params] if (phased and phased.restore_weights) else None
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    # Phase boundaries in documents; with no phases, one segment holding every document.
    if phased is not None:
        prefix = min(phased.prefix_docs, len(docs))
        boundaries = sorted({prefix * (k + 1) // phased.num_phases for k in range(phased.num_phases)} - {0})
    else:
        boundaries = []
    segments = [0, *boundaries, len(docs)]
    bar = _progress(int(((docs[:, 1] - docs[:, 0] + cfg.chunk - 1) // cfg.chunk).sum()), mode_name, opts.progress and dist_ctx.rank == 0)
    lora_steps = global_steps = 0
    try:
        for seg in range(len(segments) - 1):
            for p in base_params:
                p.requires_grad_(False)
            seg_ids = np.arange(segments[seg], segments[seg + 1])
            mine = seg_ids[rank_slice(len(seg_ids), dist_ctx.rank, dist_ctx.world_size)]
            # Longest documents first keeps batches evenly padded; the order cannot change any score.
            mine = mine[np.argsort(-(docs[mine, 1] - docs[mine, 0]), kind="stable")]
            for b0 in range(0, len(mine), cfg.batch_docs):
                ids = mine[b0 : b0 + cfg.batch_docs]
                lora_steps += _lora_pass(model, tokens_dev, stream, docs[ids], ids, cfg, targets, sums, ledger, per_token, opts, bar)
            if phased is not None and seg < len(boundaries) and segments[seg + 1] == boundaries[seg]:
                for p, req in zip(base_params, requires):
                    p.requires_grad_(req)
                hi = int(docs[boundaries[seg] - 1, 1])
                global_steps += _global_sgd(model, tokens_dev, hi, phased, ledger, opts, dist_ctx, [p for p, r in zip(base_params, requires) if r])
                if hasattr(model, "eval"):
                    model.eval()
    finally:
        if bar is not None:
            bar.close()
        for p, req in zip(base_params, requires):
            p.requires_grad_(req)
        if snapshot is not None:
            with torch.no_grad():
                for p, saved in zip(base_params, snapshot):
                    p.copy_(saved)
        if hasattr(model, "train"):
            model.train(was_training)
    total = sums.reduced(dist_ctx)
    values = per_token.finish(dist_ctx, opts.per_token_path)
    return EvalResult.from_sums(
        mode_name,
        version,
        total,
        time.perf_counter() - t0,
        params=asdict(phased if phased is not None else cfg),
        world_size=dist_ctx.world_size,
        per_token_nll_path=None if opts.per_token_path is None else str(opts.per_token_path),
        details={"documents": int(len(docs)), "lora_steps": lora_steps, "global_steps": global_steps, "phase_boundaries": boundaries},
        per_token_nll=values if (opts.collect_per_token or opts.collect_probe) else None,
        probe_nll=per_token.probe_values,
    )


def _global_sgd(model, tokens_dev, prefix_hi: int, cfg: PhasedTTTConfig, ledger: ScoreLedger, opts: RunOptions, dist_ctx, params) -> int:
    """SGD on targets [0, prefix_hi): exactly the documents already scored (checked across ranks)."""
    ledger.require_scored(0, prefix_hi)
    if not params:
        return 0
    device = tokens_dev.device
    L, C = cfg.global_seq_len, cfg.global_chunk_tokens
    n_chunks = math.ceil(prefix_hi / C)
    opt = torch.optim.SGD(params, lr=cfg.global_lr, momentum=cfg.global_momentum)
    if hasattr(model, "train"):
        model.train()
    steps = 0
    for ci in range(n_chunks):
        cs, ce = ci * C, min((ci + 1) * C, prefix_hi)
        n_seq = (ce - cs) // L
        if n_seq == 0:
            continue
        lr = cfg.global_lr * 0.5 * (1 + math.cos(math.pi * ci / max(n_chunks - 1, 1)))
        for g in opt.param_groups:
            g["lr"] = lr
        for _ in range(cfg.global_epochs):
            for b0 in range(0, n_seq, cfg.global_batch_seqs):
                b1 = min(b0 + cfg.global_batch_seqs, n_seq)
                share = rank_slice(b1 - b0, dist_ctx.rank, dist_ctx.world_size)
                opt.zero_grad(set_to_none=True)
                if share.stop > share.start:
                    starts = cs + torch.arange(b0 + share.start, b0 + share.stop, device=device) * L
                    idx = starts[:, None] + torch.arange(L, device=device)[None, :]
                    with autocast_for(device, opts.autocast_dtype):
                        loss = sequence_loss_sum(model, tokens_dev[idx], tokens_dev[idx + 1], opts.compiled_hidden(model)) / float((b1 - b0) * L)
                    loss.backward()
                dist_ctx.all_reduce_grads_(params)
                if cfg.global_grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, cfg.global_grad_clip)
                opt.step()
                steps += 1
    opt.zero_grad(set_to_none=True)
    return steps


@register_eval_mode("ttt_lora", version=1, summary="score-first per-document LoRA TTT, adapters reset at document boundaries")
def ttt_lora(model: EvalModel, stream: EvalStream, config: LoRATTTConfig | None = None, opts: RunOptions | None = None) -> EvalResult:
    return _run_docs(model, stream, config or LoRATTTConfig(), opts or RunOptions(), phased=None, mode_name="ttt_lora", version=ttt_lora.mode_version)


@register_eval_mode("ttt_phased", version=1, summary="per-document LoRA TTT plus global SGD on already-scored prefix documents")
def ttt_phased(model: EvalModel, stream: EvalStream, config: PhasedTTTConfig | None = None, opts: RunOptions | None = None) -> EvalResult:
    cfg = config or PhasedTTTConfig()
    return _run_docs(model, stream, cfg, opts or RunOptions(), phased=cfg, mode_name="ttt_phased", version=ttt_phased.mode_version)
