"""Re-score an artifact with the harness's own evaluators and compare with the submission's numbers.

The model runs in a sandboxed child behind ``RemoteModel``; flat and sliding scores are computed in
the harness's process from the logits it serves. Score-first TTT needs the parameters, so it runs in
the child through the harness's own TTT evaluator. The prefix-invariance probe runs on the remote
model (an attention leak or lookahead changes the scores of targets before the divergence).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.audit.logparse import MetricLine, ParsedLog
from harness.engine.api import run_mode
from harness.engine.probe import prefix_invariance_probe
from harness.engine.stream import EvalStream
from harness.repro.layout import DataLayout
from harness.repro.remote import RemoteModel
from harness.repro.settings import ReproSettings
from harness.review import Check, Evidence

DEFAULT_TOLERANCE = 1e-3  # bits/byte between the harness's score and the script's own for the same artifact
LOGITS_BUDGET_BYTES = 1 << 28  # float32 logits per request: bounds the pipe transfer and the child's memory
MODE_OF_LOG = {"flat": "roundtrip", "sliding": "sliding", "ttt_sgd": "ttt"}


@dataclass
class Target:
    """One artifact to re-score, the log that reports its numbers (or None), and where it lives."""

    artifact: Path
    workdir: Path
    log: ParsedLog | None
    label: str  # e.g. "seed 1337 (shipped)" or "seed 42 (reproduced)"


def _effective_mode(log: ParsedLog, m: MetricLine) -> str:
    # a roundtrip label printed after a marker such as "final_eval_mode:sliding_window" is a sliding
    # score: the audit's parser works that out for the reported line
    if log.reported is not None and log.reported_mode and \
            m.label.removesuffix("_exact") == log.reported.label.removesuffix("_exact"):
        return log.reported_mode
    return m.mode


def _logged(log: ParsedLog | None, mode: str) -> MetricLine | None:
    if log is None:
        return None
    want = MODE_OF_LOG[mode]
    lines = [m for m in log.metrics if _effective_mode(log, m) == want and m.kind == "final"]
    precise = [m for m in lines if m.precise]
    return (precise or lines or [None])[-1]


def _batch(seq_len: int, vocab: int) -> int:
    return max(1, min(32, LOGITS_BUDGET_BYTES // (seq_len * vocab * 4)))


def rescore(target: Target, script: str, adapter: str, layout: DataLayout, settings: ReproSettings,
            tolerance: float = DEFAULT_TOLERANCE, probe: bool = True, ttt: dict | None = None,
            progress: bool = True, compile: str = "auto") -> tuple[list[Check], dict, dict | None]:
    rel = target.artifact.relative_to(target.workdir).as_posix()
    with RemoteModel(workdir=target.workdir, script=script, artifact=rel, adapter=adapter,
                     policy=settings.policy(settings.rescore_wall_s, {**layout.env(), **settings.env}),
                     log_dir=settings.work_root / "logs", name=f"serve_{target.artifact.stem}", compile=compile) as remote:
        info = remote.info
        vocab = remote.vocab_size
        seq_len = int(info.get("seq_len") or 1024)
        stride = int(info.get("stride") or 64)
        stream = EvalStream.from_dataset(layout.dataset, layout.tokenizer, seq_len=seq_len, vocab_size=vocab)
        common = dict(seq_len=seq_len, batch_windows=_batch(seq_len, vocab), progress=progress)
        results = {"flat": run_mode("flat", remote, stream, **common)}
        if stride < seq_len and (_logged(target.log, "sliding") is not None or target.log is None):
            results["sliding"] = run_mode("sliding", remote, stream, stride=stride, **common)
        ttt_settings = ttt if ttt is not None else (info.get("settings") or {}).get("ttt")
        ttt_result = None
        if ttt_settings and (_logged(target.log, "ttt_sgd") is not None or ttt is not None):
            ttt_result = remote.ttt("ttt_sgd", {"data_dir": str(layout.dataset), "tokenizer": str(layout.tokenizer),
                                                "seq_len": seq_len},
                                    {"seq_len": seq_len, "stride": stride, **ttt_settings})
        probe_result = None
        if probe:
            head = EvalStream(stream.tokens[: 4 * seq_len + 1].clone(), stream.target_bytes[: 4 * seq_len].copy(),
                              bos_id=stream.bos_id, byte_source=stream.byte_source)
            probe_result = prefix_invariance_probe(remote, "flat", head, vocab_size=vocab, **common, atol=1e-4)
    rows = []
    for mode, r in results.items():
        rows.append({"mode": mode, "val_bpb": r.val_bpb, "val_loss": r.val_loss, "tokens": r.tokens, "bytes": r.bytes,
                     "seconds": round(r.seconds, 2)})
    if ttt_result is not None:
        rows.append({"mode": "ttt_sgd", "val_bpb": ttt_result["val_bpb"], "val_loss": ttt_result["val_loss"],
                     "tokens": ttt_result["tokens"], "bytes": ttt_result["bytes"], "seconds": round(ttt_result["seconds"], 2)})
    checks, problems, evidence = [], [], []
    for row in rows:
        line = _logged(target.log, row["mode"])
        if line is not None:
            row["logged"], row["gap"] = line.val_bpb, row["val_bpb"] - line.val_bpb
            row["logged_label"] = line.label
            evidence.append(Evidence(path=Path(target.log.path).name, line=line.line, text=line.text,
                                     note=f"harness {row['mode']}: {row['val_bpb']:.8f} (gap {row['gap']:+.2e})"))
            # a 4-decimal line cannot agree better than its rounding
            allowed = tolerance if line.precise else max(tolerance, 5e-5)
            if abs(row["gap"]) > allowed:
                problems.append(f"{row['mode']}: harness {row['val_bpb']:.6f} vs logged {line.val_bpb:.6f} "
                                f"({line.label}, gap {row['gap']:+.2e} > {allowed:.0e})")
    headline = next((r for r in reversed(rows) if r["mode"] in ("ttt_sgd", "sliding")), rows[0])
    data = {"target": target.label, "artifact": target.artifact.name, "adapter": info.get("settings", {}).get("adapter"),
            "forward": info.get("settings", {}).get("forward"), "dtypes": info.get("settings", {}).get("dtypes"),
            "device": info.get("device"), "parameters": info.get("parameters"), "seq_len": seq_len, "stride": stride,
            "stream_sha256": stream.sha256(), "tolerance": tolerance, "modes": rows, "val_bpb": headline["val_bpb"],
            "val_bpb_mode": headline["mode"]}
    compared = [r for r in rows if "gap" in r]
    summary = ", ".join(f"{r['mode']} {r['val_bpb']:.6f}" + (f" (logged {r['logged']:.6f})" if "logged" in r else "") for r in rows)
    if problems:
        checks.append(Check("repro.rescore", "fail", f"{target.label}: " + "; ".join(problems), evidence, data))
    elif not compared:
        checks.append(Check("repro.rescore", "warn", f"{target.label}: re-scored ({summary}) but no log line to compare with",
                            evidence, data))
    else:
        worst = max(abs(r["gap"]) for r in compared)
        checks.append(Check("repro.rescore", "pass", f"{target.label}: the harness's scores of {target.artifact.name} agree "
                            f"with the logs (largest gap {worst:.1e} <= {tolerance:.0e}): {summary}", evidence, data))
    probe_dict = probe_result.to_dict() if probe_result else None
    if probe_result is not None:
        status = "pass" if probe_result.passed else "fail"
        msg = (f"scores of the {probe_result.compared_targets} targets before token {probe_result.prefix_len} are unchanged "
               "when the tokens after it change" if probe_result.passed else
               f"{probe_result.differing_targets} of {probe_result.compared_targets} targets before the divergence at token "
               f"{probe_result.prefix_len} changed (max {probe_result.max_abs_diff:.2e} nats; first at target "
               f"{probe_result.first_differing_target}): the model reads tokens it has not scored yet")
        checks.append(Check("repro.probe", status, msg, [], probe_dict))
    return checks, data, probe_dict
