"""The audit's checks. Each has a stable id and returns a Check whose message says what it read
(file and line), what it expected and what it found; ``skip`` means it does not apply or the
evidence is missing.
"""

from __future__ import annotations

import statistics
from typing import Callable

from harness.audit.codebytes import CodeSizes, measure_code
from harness.audit.intake import Submission
from harness.audit.logparse import Located, ParsedLog
from harness.review import Check, Evidence

CAP_BYTES = 16_000_000
TRAIN_LIMIT_S = 600.0
EVAL_LIMIT_S = 600.0
CLAIM_TOL = 1e-4


def _ev(log: ParsedLog, item: Located | None, note: str = "") -> list[Evidence]:
    return [] if item is None else [Evidence(log.path, item.line, item.text.strip(), note)]


def _metric_ev(log: ParsedLog, note: str = "") -> Evidence:
    m = log.reported
    return Evidence(log.path, m.line, m.text.strip(), note or log.reported_reason)


# --------------------------------------------------------------------------- submission.files


def check_files(sub: Submission) -> Check:
    missing, fatal, minor, ev = [], [], [], []
    if sub.readme is None:
        missing.append("README.md")
    if sub.submission_json is None:
        missing.append("submission.json")
    elif sub.claims_error is not None:
        fatal.append(sub.claims_error.describe())
        ev.append(Evidence(sub.claims_error.path or "submission.json", sub.claims_error.line, "", sub.claims_error.message))
    elif sub.claims is not None:
        if sub.claims.val_bpb is None:
            fatal.append(f"{sub.claims.path}: no numeric val_bpb (or mean_val_bpb) field")
        for p in sub.claims.problems:
            (minor if "stored under" in p else fatal).append(f"{sub.claims.path}: {p}")
        for key in ("name", "author"):
            if not sub.claims.raw.get(key):
                minor.append(f'{sub.claims.path}: missing "{key}"')
    if not sub.scripts:
        missing.append("train_gpt.py")
    if not sub.run_logs():
        missing.append("a train log with a final metric (*.log / *.txt)")
    found = [p for p in (sub.readme, sub.submission_json, *sub.scripts) if p is not None]
    found_txt = ", ".join(sub.rel(p) for p in found) + (f"; {len(sub.logs)} log(s)" if sub.logs else "; no logs")
    data = {"missing": missing, "problems": fatal + minor}
    if missing or fatal:
        return Check("submission.files", "fail",
                     f"read the folder {sub.root.name}: expected README.md, submission.json with a numeric val_bpb, "
                     f"train_gpt.py and train logs; missing: {', '.join(missing) or 'nothing'}"
                     + (f"; problems: {'; '.join(fatal + minor)}" if fatal or minor else "") + f" (found {found_txt})",
                     ev, data)
    if minor:
        return Check("submission.files", "warn", f"required files present ({found_txt}); problems: {'; '.join(minor)}", ev, data)
    return Check("submission.files", "pass", f"required files present: {found_txt}")


# --------------------------------------------------------------------------- claim.logs


def _dedupe(logs: list[ParsedLog]) -> tuple[list[ParsedLog], list[str]]:
    """A folder often ships train.log next to an identical train_seedN.log: count that run once."""
    seen, out, dropped = {}, [], []
    for log in logs:
        key = (log.seed, round(log.reported.val_bpb, 10), round(log.reported.val_loss, 10) if log.reported.val_loss == log.reported.val_loss else None)
        if key in seen:
            dropped.append(f"{log.path} repeats {seen[key]}")
            continue
        seen[key] = log.path
        out.append(log)
    return out, dropped


def _seeds_of(log: ParsedLog) -> set[int]:
    return {x for x in (log.seed, log.name_seed) if x is not None}


def select_runs(sub: Submission) -> tuple[list[ParsedLog], list[str]]:
    """The run logs the claim should be averaged over, and notes on what was left out.

    With claimed seeds, logs of other seeds are left out; when a claimed seed has several logs
    (an original and a re-run, or two folders), the one-log-per-seed choice closest to the
    claimed values is taken and the others are named.
    """
    runs, notes = _dedupe(sub.run_logs())
    notes = list(notes)
    claims = sub.claims
    claimed = set(claims.seeds) if claims else set()
    if not claimed:
        return runs, notes
    by_seed: dict[int, list[ParsedLog]] = {}
    for r in runs:
        for s in sorted(_seeds_of(r) & claimed):
            by_seed.setdefault(s, []).append(r)
            break
    if not by_seed:
        notes.append(f"no log names one of the claimed seeds {sorted(claimed)}; every run log is used")
        return runs, notes
    left = [r.path for r in runs if not any(r in v for v in by_seed.values())]
    if left:
        notes.append(f"left out logs whose seed is not among the claimed seeds {sorted(claimed)}: {', '.join(left)}")
    seeds = sorted(by_seed)
    combos = [[]]
    for s in seeds:
        combos = [c + [r] for c in combos for r in by_seed[s]][:4096]

    def distance(combo):
        d = 0.0
        for r in combo:
            sc = claims.seeds.get(r.seed) or claims.seeds.get(r.name_seed)
            if sc and sc.val_bpb is not None:
                d += abs(r.reported.val_bpb - sc.val_bpb)
        if claims.val_bpb is not None:
            d += abs(statistics.fmean(x.reported.val_bpb for x in combo) - claims.val_bpb)
        return d

    best = min(combos, key=distance)
    extra = [r.path for s in seeds for r in by_seed[s] if r not in best]
    if extra:
        notes.append(f"several logs for the same seed; used {', '.join(r.path for r in best)}; also present: {', '.join(extra)}")
    return best, notes


def _subset_matching(runs: list[ParsedLog], headline: float) -> list[ParsedLog] | None:
    """Smallest-first search for a subset of run logs whose mean is the headline (bounded work)."""
    from itertools import combinations

    n = len(runs)
    for k in range(2, n):
        if _ncr(n, k) > 20000:
            break
        for combo in combinations(runs, k):
            if abs(statistics.fmean(r.reported.val_bpb for r in combo) - headline) <= CLAIM_TOL / 2:
                return list(combo)
    return None


def _ncr(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)


def check_claim_logs(sub: Submission) -> Check:
    cid = "claim.logs"
    if sub.claims is None or sub.claims.val_bpb is None:
        return Check(cid, "skip", "no readable headline val_bpb in submission.json (see submission.files)")
    headline = sub.claims.val_bpb
    src = f"{sub.claims.path} {sub.claims.val_bpb_key}={headline}"
    runs, notes = select_runs(sub)
    if not runs:
        pre = _matches_pre_quant(sub.logs, headline)
        if pre is not None:
            log, line, text = pre
            return Check(cid, "fail", f"read {src}; no log has a post-quantization final metric, and the headline equals "
                         f"a pre-quantization number at {log}{':' + str(line) if line else ''} ({text.strip()})",
                         [Evidence(log, line, text.strip(), "pre-quantization")], {"headline": headline, "notes": notes})
        return Check(cid, "skip", f"read {src}; no run log with a final metric to check it against", data={"notes": notes})
    values = [r.reported.val_bpb for r in runs]
    mean = statistics.fmean(values)
    ev = [_metric_ev(r) for r in runs]
    data = {"headline": headline, "mean": mean, "values": values, "logs": [r.path for r in runs], "notes": notes,
            "labels": sorted({r.reported.label for r in runs})}
    seed_problems = _cross_check_seeds(sub, runs)
    data["seed_problems"] = seed_problems
    per_log = "; ".join(f"{r.path}:{r.reported.line} {r.reported.label}={r.reported.val_bpb}" for r in runs)
    note_txt = f" ({'; '.join(notes)})" if notes else ""
    if abs(headline - mean) <= CLAIM_TOL:
        if seed_problems:
            return Check(cid, "fail", f"read {src}; the mean of the reported metric over {len(runs)} run log(s) is "
                         f"{mean:.8f} and matches, but per-seed values in submission.json disagree with the logs: "
                         + "; ".join(seed_problems), ev, data)
        return Check(cid, "pass", f"read {src}; expected the mean of the reported metric over the run logs; found "
                     f"{mean:.8f} over {len(runs)} log(s) ({per_log}){note_txt}", ev, data)
    # It does not match the mean: say what it does match.
    missing = sorted(set(sub.claims.seeds) - {s for r in runs for s in _seeds_of(r)})
    if missing:
        note_txt += f"; claimed seeds with no log: {missing}"
        data["claimed_seeds_without_log"] = missing
    for r in sorted(runs, key=lambda r: r.reported.val_bpb):
        if abs(headline - r.reported.val_bpb) <= 5e-6 and len(runs) > 1:
            rank = "the best" if r.reported.val_bpb == min(values) else "the first" if r is runs[0] else "one"
            return Check(cid, "fail", f"read {src}; expected the mean over {len(runs)} runs ({mean:.8f}); the headline is "
                         f"{rank} run's value instead ({r.path}:{r.reported.line}, seed {r.seed})", ev, data)
    alt = _alternative_metric(runs, headline)
    if alt is not None:
        label, alt_mean, kind = alt
        status = "fail" if kind != "final" else "warn"
        what = "a pre-quantization / diagnostic number" if kind != "final" else "another final metric"
        return Check(cid, status, f"read {src}; the last final metric of each log ({', '.join(data['labels'])}) averages "
                     f"{mean:.8f}, but the headline is the mean of the '{label}' lines ({alt_mean:.8f}): {what}", ev, data)
    for r in runs:
        for m in r.final_metrics():
            if m is not r.reported and abs(headline - m.val_bpb) <= 5e-6 and len(runs) > 1:
                return Check(cid, "fail", f"read {src}; expected the mean over {len(runs)} runs ({mean:.8f}); the headline "
                             f"is one run's '{m.label}' value instead ({r.path}:{m.line}, seed {r.seed})",
                             ev + [Evidence(r.path, m.line, m.text.strip())], data)
    subset = _subset_matching(sub.run_logs(), headline)
    if subset is not None:
        data["subset"] = [r.path for r in subset]
        return Check(cid, "warn", f"read {src}; the {len(runs)} run logs average {mean:.8f}; the headline is the mean of "
                     f"{len(subset)} of the {len(sub.run_logs())} run logs: {', '.join(r.path for r in subset)}",
                     [_metric_ev(r) for r in subset], data)
    pre = _matches_pre_quant(runs, headline)
    if pre is not None:
        log, line, text = pre
        return Check(cid, "fail", f"read {src}; expected the mean of a post-quantization final metric ({mean:.8f}); the "
                     f"headline equals a pre-quantization number at {log}{':' + str(line) if line else ''} ({text.strip()})",
                     ev + [Evidence(log, line, text.strip(), "pre-quantization")], data)
    return Check(cid, "fail", f"read {src}; expected the mean of the reported metric over the run logs; found "
                 f"{mean:.8f} ({per_log}); the headline appears in no log{note_txt}", ev, data)


def _cross_check_seeds(sub: Submission, runs: list[ParsedLog]) -> list[str]:
    problems = []
    by_seed = {}
    for r in runs:
        for s in _seeds_of(r):
            by_seed.setdefault(s, r)
    for seed, sc in sorted(sub.claims.seeds.items()):
        if sc.val_bpb is None:
            continue
        log = by_seed.get(seed)
        if log is None:
            problems.append(f"seed {seed} claims {sc.val_bpb} but no run log has that seed")
            continue
        finals = [m.val_bpb for m in log.final_metrics()]
        if abs(log.reported.val_bpb - sc.val_bpb) > CLAIM_TOL and not any(abs(v - sc.val_bpb) <= CLAIM_TOL for v in finals):
            problems.append(f"seed {seed} claims {sc.val_bpb} but {log.path}:{log.reported.line} reports {log.reported.val_bpb}")
    return problems


def _alternative_metric(runs: list[ParsedLog], headline: float) -> tuple[str, float, str] | None:
    labels = None
    for r in runs:
        have = {m.label for m in r.metrics}
        labels = have if labels is None else labels & have
    for label in sorted(labels or ()):
        vals = [[m for m in r.metrics if m.label == label][-1] for r in runs]
        mean = statistics.fmean(m.val_bpb for m in vals)
        if abs(mean - headline) <= CLAIM_TOL:
            return label, mean, vals[0].kind
    return None


def _matches_pre_quant(runs: list[ParsedLog], headline: float):
    """A diagnostic / pre-quantization metric line, or the last periodic validation, equal to the headline."""
    for r in runs:
        for m in r.metrics:
            if m.kind == "diagnostic" and abs(m.val_bpb - headline) <= CLAIM_TOL:
                return r.path, m.line, m.text
        if r.val_curve and abs(r.val_curve[-1][1] - headline) <= CLAIM_TOL:
            return r.path, None, f"step {r.val_curve[-1][0]} periodic validation val_bpb {r.val_curve[-1][1]}"
    return None


# --------------------------------------------------------------------------- size.cap / size.code_bytes


def _code(sub: Submission) -> CodeSizes:
    script = sub.main_script
    return measure_code(script, sub.siblings.get(script.name, []) if script else [])


def _logged_code(log: ParsedLog) -> Located | None:
    """The size of the code file the log says ran (plain or uncompressed count before a computed one)."""
    return log.code_bytes or log.code_bytes_uncompressed or log.code_bytes_compressed


def _counted_code(log: ParsedLog) -> tuple[int, str] | None:
    """The code bytes the log's own total counts (total - model), and which logged line that is."""
    if log.total_bytes is None or log.model_bytes is None:
        return None
    counted = log.total_bytes.value - log.model_bytes.value
    for item, label in ((log.code_bytes, "Code size"), (log.code_bytes_compressed, "Code size (compressed)"),
                        (log.code_bytes_uncompressed, "Code size (uncompressed)")):
        if item is not None and item.value == counted:
            return counted, label
    return counted, "total minus model"


def check_size_cap(sub: Submission) -> Check:
    cid = "size.cap"
    code = _code(sub)
    rows, over, unsure, ev = [], [], [], []
    conventions = set()
    for log in sub.logs:
        if log.model_bytes is None:
            continue
        logged = _logged_code(log)
        if code.shipped is not None:
            code_bytes, basis = code.shipped, f"shipped {code.script}" + (f" + {', '.join(code.stub_of)}" if code.stub_of else "")
        elif logged is not None:
            code_bytes, basis = logged.value, "logged code size (script not in the folder)"
        else:
            continue
        total = log.model_bytes.value + code_bytes
        counted = _counted_code(log)
        if counted is not None:
            value, label = counted
            conv = code.convention_of(value) if code.shipped is not None else None
            if conv is None and code.shipped is not None:
                conv = (f"'{label}' = {value:,} bytes, a computed size of code the folder does not ship"
                        if label == "Code size (compressed)" else f"{value:,} bytes, no way of counting the shipped files")
            conventions.add(conv or f"'{label}' = {value:,} bytes (script not in the folder)")
        rows.append({"log": log.path, "model_bytes": log.model_bytes.value, "code_bytes": code_bytes, "total": total,
                     "basis": basis, "logged_total": log.total_bytes.value if log.total_bytes else None})
        ev += _ev(log, log.model_bytes)
        if total > CAP_BYTES:
            if code.shipped is None and log.model_bytes.value <= CAP_BYTES:
                unsure.append(f"{log.path}: {log.model_bytes.value:,} + {code_bytes:,} logged code = {total:,}")
            else:
                over.append(f"{log.path}: {log.model_bytes.value:,} + {code_bytes:,} = {total:,}")
    data = {"cap": CAP_BYTES, "runs": rows, "code": {"script": code.script, "shipped": code.shipped, "counted": code.counted,
            "wrapper": code.wrapper, "stub_of": code.stub_of}, "conventions": sorted(conventions)}
    if not rows:
        return Check(cid, "skip", "no log states the compressed model size, so the artifact cannot be totalled", data=data)
    conv_txt = f"; the logs' own totals count code as: {', '.join(sorted(conventions))}" if conventions else ""
    if over:
        return Check(cid, "fail", f"expected model bytes + code bytes <= {CAP_BYTES:,} for every run; over the cap: "
                     + "; ".join(over) + conv_txt, ev, data)
    if unsure:
        return Check(cid, "warn", f"the folder ships no script, so code bytes come from the logs, which may count them "
                     f"another way than the shipped file; with them these runs are over {CAP_BYTES:,}: " + "; ".join(unsure)
                     + conv_txt, ev, data)
    worst = max(rows, key=lambda r: r["total"])
    return Check(cid, "pass", f"every run fits: largest {worst['log']}: {worst['model_bytes']:,} model + {worst['code_bytes']:,} "
                 f"code ({worst['basis']}) = {worst['total']:,} <= {CAP_BYTES:,}{conv_txt}", ev, data)


def check_code_bytes(sub: Submission) -> Check:
    cid = "size.code_bytes"
    code = _code(sub)
    if code.shipped is None:
        return Check(cid, "skip", "no train_gpt.py in the folder to compare the logged code size with")
    logged = [(log, _logged_code(log)) for log in sub.logs if _logged_code(log) is not None]
    if not logged:
        return Check(cid, "skip", f"no log reports a code size (shipped: {code.shipped:,} bytes)", data={"shipped": code.shipped})
    mismatch, other, ev = [], [], []
    for log, item in logged:
        ev += _ev(log, item)
        if item.value == code.shipped:
            continue
        conv = code.convention_of(item.value)
        if conv is not None:
            other.append(f"{log.path}:{item.line} logs {item.value:,} bytes = {conv}")
        else:
            mismatch.append(f"{log.path}:{item.line} logs {item.value:,} bytes")
    data = {"shipped": code.shipped, "counted": code.counted, "logged": {log.path: item.value for log, item in logged}}
    expected = f"expected the logged code size to equal the {code.shipped:,} bytes the folder ships ({code.script}" + \
        (f" + {', '.join(code.stub_of)})" if code.stub_of else ")")
    if mismatch:
        return Check(cid, "fail", f"{expected}; no way of counting the shipped files gives what these logs report, so they "
                     f"were not produced by this file: " + "; ".join(mismatch + other), ev, data)
    if other:
        return Check(cid, "warn", f"{expected}; these logs count the code another way: " + "; ".join(other), ev, data)
    return Check(cid, "pass", f"{expected}; all {len(logged)} log(s) agree", ev, data)


# --------------------------------------------------------------------------- time.train / time.eval


def non_record(sub: Submission) -> bool:
    """Non-record tracks (unlimited compute, 1 GPU) have no time limits."""
    track = (sub.claims.track if sub.claims else None) or ""
    return "non" in track.replace("_", "-").lower() or any("non_record" in part for part in sub.root.resolve().parts)


def check_time_train(sub: Submission) -> Check:
    cid = "time.train"
    if non_record(sub):
        return Check(cid, "skip", "non-record track: the 600 s training limit does not apply")
    rows, fails, warns, ev = [], [], [], []
    for log in sub.logs:
        if log.train_time_ms is None:
            continue
        train = log.train_time_ms.value / 1000
        extra, parts = 0.0, [f"training loop {train:.1f} s ({log.path}:{log.train_time_ms.line})"]
        if log.gptq_seconds is not None and log.gptq_reserved is None:
            extra += log.gptq_seconds.value
            parts.append(f"+ {log.gptq_seconds.value:.1f} s post-training calibration on training data outside the clock "
                         f"(line {log.gptq_seconds.line})")
        total = train + extra
        if log.post_gptq_total_s is not None:
            total = max(total, log.post_gptq_total_s.value)
            parts.append(f"wallclock after GPTQ {log.post_gptq_total_s.value:.1f} s (line {log.post_gptq_total_s.line})")
        ev += _ev(log, log.train_time_ms) + _ev(log, log.gptq_seconds) + _ev(log, log.post_gptq_total_s)
        step = (log.step_avg_ms or 0) / 1000
        rows.append({"log": log.path, "seconds": total, "parts": parts})
        # the baseline's loop checks the clock once per step, so it stops up to ~2 steps past the cap
        if total > TRAIN_LIMIT_S + 2 * step + 1e-9:
            fails.append(f"{log.path}: {total:.1f} s ({'; '.join(parts)})")
        elif total > TRAIN_LIMIT_S:
            warns.append(f"{log.path}: {total:.3f} s, over by less than two steps ({step * 1000:.0f} ms each): the "
                         f"wallclock check runs between steps")
    if not rows:
        return Check(cid, "skip", "no log states the training time")
    data = {"limit_s": TRAIN_LIMIT_S, "runs": rows}
    if fails:
        return Check(cid, "fail", f"expected training (plus calibration after the clock) <= {TRAIN_LIMIT_S:.0f} s; over: " + "; ".join(fails), ev, data)
    if warns:
        return Check(cid, "warn", "; ".join(warns), ev, data)
    worst = max(rows, key=lambda r: r["seconds"])
    return Check(cid, "pass", f"every run trains within {TRAIN_LIMIT_S:.0f} s; longest {worst['log']}: {worst['seconds']:.1f} s", ev, data)


def check_time_eval(sub: Submission) -> Check:
    cid = "time.eval"
    if non_record(sub):
        return Check(cid, "skip", "non-record track: the 600 s evaluation limit does not apply")
    rows, fails, ev = [], [], []
    for log in sub.run_logs():
        m = log.reported
        parts, total = [], 0.0
        if m.eval_ms is not None:
            total += m.eval_ms / 1000
            parts.append(f"reported evaluation {m.eval_ms / 1000:.1f} s ({log.path}:{m.line})")
        else:  # an alias line carries no time; the line it repeats does
            orig = [x for x in log.final_metrics() if x.eval_ms is not None and abs(x.val_bpb - m.val_bpb) < 1e-8]
            if orig:
                total += orig[0].eval_ms / 1000
                parts.append(f"reported evaluation {orig[0].eval_ms / 1000:.1f} s ({log.path}:{orig[0].line})")
        if log.compile_warmup_s is not None:
            total += log.compile_warmup_s.value
            parts.append(f"+ {log.compile_warmup_s.value:.1f} s compile warm-up before it (line {log.compile_warmup_s.line})")
            ev += _ev(log, log.compile_warmup_s)
        if log.total_eval_time_s is not None and log.total_eval_time_s.value > total:
            total = log.total_eval_time_s.value
            parts.append(f"total_eval_time {total:.1f} s (line {log.total_eval_time_s.line})")
            ev += _ev(log, log.total_eval_time_s)
        if not parts:
            continue
        ev.append(_metric_ev(log))
        rows.append({"log": log.path, "seconds": total, "parts": parts})
        if total > EVAL_LIMIT_S:
            fails.append(f"{log.path}: {total:.1f} s ({'; '.join(parts)})")
    if not rows:
        return Check(cid, "skip", "no log states the evaluation time of the reported metric")
    data = {"limit_s": EVAL_LIMIT_S, "runs": rows}
    if fails:
        return Check(cid, "fail", f"expected evaluation (with the warm-up the log reveals) <= {EVAL_LIMIT_S:.0f} s; over: " + "; ".join(fails), ev, data)
    worst = max(rows, key=lambda r: r["seconds"])
    return Check(cid, "pass", f"every run evaluates within {EVAL_LIMIT_S:.0f} s; longest {worst['log']}: {worst['seconds']:.1f} s "
                 f"({'; '.join(worst['parts'])})", ev, data)


# --------------------------------------------------------------------------- significance


def run_losses(sub: Submission) -> tuple[list[float], list[str]]:
    runs, _ = select_runs(sub)
    vals = [r.reported.val_loss for r in runs if r.reported.val_loss == r.reported.val_loss]
    return vals, [r.path for r in runs]


def check_significance(sub: Submission, previous: list[float] | None, previous_label: str = "") -> Check:
    cid = "significance"
    from harness.audit.significance import welch_improvement

    if previous is None:
        return Check(cid, "skip", "no previous record given (--against FOLDER or --against-values)")
    new, logs = run_losses(sub)
    if len(new) < 2 or len(previous) < 2:
        return Check(cid, "skip", f"the one-sided Welch test needs at least 2 runs on each side; found {len(new)} new "
                     f"(val_loss from {', '.join(logs) or 'no logs'}) and {len(previous)} previous")
    r = welch_improvement(new, previous)
    data = {**r.to_dict(), "new": new, "previous": previous, "previous_source": previous_label}
    msg = (f"H0: mean new val_loss >= mean previous - {r.margin} nats; new n={r.n_new} mean={r.mean_new:.6f} "
           f"std={r.std_new:.6f}; previous ({previous_label}) n={r.n_old} mean={r.mean_old:.6f} std={r.std_old:.6f}; "
           f"t={r.t:.3f} df={r.df:.2f} p={r.p:.3g}; expected p < {r.alpha}")
    return Check(cid, "pass" if r.significant else "fail", msg, data=data)


# --------------------------------------------------------------------------- lint.ttt


def check_lint(sub: Submission) -> tuple[Check, dict | None]:
    cid = "lint.ttt"
    if not sub.scripts:
        return Check(cid, "skip", "no train_gpt.py to lint"), None
    try:
        from checks.api import lint_submission
    except ImportError as exc:
        return Check(cid, "skip", f"the static TTT checker is not available ({exc})"), None
    result = lint_submission(sub.root)
    verdicts = {f["path"]: f["verdict"] for f in result.get("files", [])}
    status = {"illegal": "fail", "warning": "warn", "unparsable": "warn", "clean": "pass"}
    worst = "pass"
    for v in verdicts.values():
        s = status.get(v, "warn")
        worst = "fail" if "fail" in (worst, s) else "warn" if "warn" in (worst, s) else "pass"
    ev = []
    for f in result.get("files", []):
        for fd in f.get("findings", []):
            where = fd.get("virtual_path") or fd.get("path") or f["path"]
            ev.append(Evidence(where, fd.get("line"), f'{fd.get("rule", "")} ({fd.get("severity", "")})', fd.get("message", "")))
    summary = ", ".join(f"{p}: {v}" for p, v in verdicts.items())
    n = sum(len(f.get("findings", [])) for f in result.get("files", []))
    return Check(cid, worst, f"static TTT legality check: {summary}; {n} finding(s)", ev[:50], {"verdicts": verdicts}), result


CHECKS: tuple[Callable[[Submission], Check], ...] = (
    check_files, check_claim_logs, check_size_cap, check_code_bytes, check_time_train, check_time_eval,
)
