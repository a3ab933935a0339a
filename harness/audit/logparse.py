"""Parse a training log for what an audit needs: final metrics, sizes, times, seeds, loss curves.

Patterns live in ``log_patterns.toml`` (data, not code). Each line is matched after stripping an
optional ``1712345678.123 `` timestamp; numeric fields are required, so the script source that
many logs embed never matches. When a quantity is printed several times the last one counts
(some logs are several runs concatenated).

The *reported* metric of a log is its last final-evaluation line, with three corrections the
records need (pg_eval_spec §6.2): a ``final_int8_zlib_roundtrip[_exact]`` line printed after the
script switched to sliding-window evaluation is a sliding result; a final line (or a bare
``val_bpb: X``) that repeats an earlier final value is an alias of that earlier line; and the
8-decimal ``_exact`` twin is preferred to the 4-decimal line. The parser says which line it used
and why.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

NUM = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
TIMESTAMP = re.compile(r"^\d{10}\.\d{3} ")


@dataclass(frozen=True)
class MetricLine:
    line: int  # 1-based
    label: str
    kind: str  # final | diagnostic
    mode: str  # roundtrip | sliding | ttt | ttt_lora | ttt_phased | pre_quant | other
    val_loss: float
    val_bpb: float
    eval_ms: float | None
    text: str

    @property
    def precise(self) -> bool:
        """Printed with at least 6 decimals (the ``_exact`` lines), so comparisons can be tight."""
        m = re.search(r"val_bpb[:=]\s*-?\d+\.(\d+)", self.text)
        return bool(m and len(m.group(1)) >= 6)


@dataclass(frozen=True)
class Located:
    line: int
    value: float | int
    text: str
    tag: str = ""


@dataclass
class ParsedLog:
    path: str
    seed: int | None = None
    seed_source: str = ""
    name_seed: int | None = None  # the seed the file name states, when it names one
    metrics: list[MetricLine] = field(default_factory=list)
    reported: MetricLine | None = None
    reported_mode: str | None = None
    reported_reason: str = ""
    train_curve: list[tuple[int, float]] = field(default_factory=list)
    val_curve: list[tuple[int, float]] = field(default_factory=list)
    train_time_ms: Located | None = None
    step_avg_ms: float | None = None
    steps: int | None = None
    model_bytes: Located | None = None
    model_bytes_raw: Located | None = None
    code_bytes: Located | None = None
    code_bytes_compressed: Located | None = None
    code_bytes_uncompressed: Located | None = None
    total_bytes: Located | None = None
    budget_bytes: Located | None = None
    total_eval_time_s: Located | None = None
    compile_warmup_s: Located | None = None
    gptq_reserved: Located | None = None
    gptq_seconds: Located | None = None
    post_gptq_total_s: Located | None = None
    serialize_s: Located | None = None
    val_tokens: int | None = None
    notes: list[str] = field(default_factory=list)

    def final_metrics(self) -> list[MetricLine]:
        return [m for m in self.metrics if m.kind == "final"]


@lru_cache(maxsize=1)
def _patterns() -> tuple[list[tuple[re.Pattern, str, str]], dict[str, re.Pattern]]:
    data = tomllib.loads(resources.files("harness.audit").joinpath("log_patterns.toml").read_text(encoding="utf-8"))
    metric_rules = [(re.compile(m["label"] + r"$"), m["kind"], m["mode"]) for m in data["metric"]]
    lines = {k: re.compile(v.replace("NUM", NUM)) for k, v in data["lines"].items()}
    return metric_rules, lines


def classify_label(label: str) -> tuple[str, str] | None:
    rules, _ = _patterns()
    for pattern, kind, mode in rules:
        if pattern.match(label):
            return kind, mode
    return None


def read_log_text(path: str | Path) -> tuple[str, list[str]]:
    """Text of a log; undecodable bytes are replaced (and counted) rather than failing."""
    raw = Path(path).read_bytes()
    notes = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        notes.append(f"{text.count(chr(0xFFFD))} byte sequences are not UTF-8 and were replaced")
    return text, notes


def _seed_from_name(name: str) -> int | None:
    m = re.search(r"(?:seed|log)[_-]?(\d+)", name, re.I)
    return int(m.group(1)) if m else None


def parse_log(path: str | Path, display_path: str | None = None) -> ParsedLog:
    path = Path(path)
    text, notes = read_log_text(path)
    _, P = _patterns()
    log = ParsedLog(path=display_path or str(path), notes=notes)
    sliding_marker: int | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = TIMESTAMP.sub("", raw.rstrip())
        if not line:
            continue
        m = P["step_train_old"].match(line)
        if m:
            log.train_curve.append((int(m["step"]), float(m["loss"])))
            log.step_avg_ms = float(m["avg"])
            continue
        m = P["step_train_new"].match(line)
        if m:
            log.train_curve.append((int(m["step"]), float(m["loss"])))
            continue
        m = P["step_val_old"].match(line) or P["step_val_new"].match(line)
        if m:
            log.val_curve.append((int(m["step"]), float(m["bpb"])))
            if m.groupdict().get("ms"):
                log.train_time_ms = log.train_time_ms if log.train_time_ms and log.train_time_ms.value > int(m["ms"]) else Located(lineno, int(m["ms"]), raw)
            continue
        m = P["metric"].match(line)
        if m:
            label = m["label"].strip() + (" sliding" if m["sliding"] else "")
            cls = classify_label(label)
            if cls is not None:
                eval_ms = re.search(r"eval_time:(\d+(?:\.\d+)?)ms|(?:^| )time:(\d+)ms", m["rest"])
                ms = float(eval_ms.group(1) or eval_ms.group(2)) if eval_ms else None
                if ms is None and label.startswith("ttt_sliding:done"):
                    el = re.search(r"elapsed=(" + NUM + ")s", m["rest"])
                    ms = float(el.group(1)) * 1000 if el else None
                kind, mode = cls
                if "eval_mode:online_ttt" in m["rest"]:
                    mode = "ttt"
                log.metrics.append(MetricLine(lineno, label, kind, mode, float(m["loss"]), float(m["bpb"]), ms, raw))
                if mode == "roundtrip" and kind == "final" and sliding_marker is not None:
                    log.notes.append(f"line {lineno}: '{label}' follows the switch to sliding-window evaluation at line {sliding_marker}")
            continue
        m = P["bare_bpb"].match(line)
        if m:
            v = float(m["bpb"])
            log.metrics.append(MetricLine(lineno, "val_bpb", "final", "alias", float("nan"), v, None, raw))
            continue
        if P["eval_mode_sliding"].match(line):
            sliding_marker = lineno
            continue
        if P["eval_mode_standard"].match(line):
            sliding_marker = None
            continue
        for key, attr in (("model_bytes_tagged", "model_bytes"), ("total_bytes_tagged", "total_bytes")):
            m = P[key].match(line)
            if m:
                setattr(log, attr, Located(lineno, int(m["bytes"]), raw, m["tag"]))
                break
        else:
            _simple(log, P, line, raw, lineno)
    _choose_reported(log, sliding_marker_lines=_sliding_markers(text, P))
    _find_seed(log, text, P, path)
    if log.budget_bytes is not None and log.code_bytes is not None and (log.model_bytes is None or log.model_bytes.tag.startswith("artifact")):
        b = log.budget_bytes
        log.model_bytes = Located(b.line, b.value - log.code_bytes.value, b.text, "budget total minus code")
        log.total_bytes = Located(b.line, b.value, b.text, "budget")
    if log.step_avg_ms is None and log.train_time_ms is not None:
        steps = log.steps or (log.train_curve[-1][0] if log.train_curve else None)
        if steps:
            log.step_avg_ms = log.train_time_ms.value / steps
    if log.reported is None:
        log.notes.append("no final-metric line: the log is truncated or the run did not finish")
    return log


def _simple(log: ParsedLog, P, line: str, raw: str, lineno: int) -> None:
    m = P["stopping_early"].match(line)
    if m:
        log.train_time_ms = Located(lineno, int(m["ms"]), raw)
        if m["step"]:
            log.steps = int(m["step"])
        return
    single = {
        "model_bytes_raw": ("model_bytes_raw", "bytes"),
        "code_bytes": ("code_bytes", "bytes"),
        "code_bytes_compressed": ("code_bytes_compressed", "bytes"),
        "code_bytes_uncompressed": ("code_bytes_uncompressed", "bytes"),
        "total_bytes_raw": (None, "bytes"),
        "budget": ("budget_bytes", "bytes"),  # exact artifact + code total
        "total_eval_time": ("total_eval_time_s", "s"),
        "compile_warmup": ("compile_warmup_s", "s"),
        "gptq_collected": ("gptq_seconds", "s"),
        "post_gptq_wallclock": ("post_gptq_total_s", "s"),
        "serialize_wallclock": ("serialize_s", "s"),
    }
    for key, (attr, group) in single.items():
        m = P[key].match(line)
        if not m:
            continue
        value = float(m[group]) if group == "s" else int(m[group])
        if key == "total_bytes_raw":
            if log.total_bytes is None or not log.total_bytes.tag:
                log.total_bytes = Located(lineno, value, raw)
        else:
            setattr(log, attr, Located(lineno, value, raw))
        return
    m = P["total_bytes_legendre"].match(line)
    if m:
        log.model_bytes = Located(lineno, int(m["model"]), raw, "INT7+zlib")
        log.total_bytes = Located(lineno, int(m["bytes"]), raw, "INT7+zlib")
        return
    m = P["artifact_mb"].match(line)
    if m:  # "artifact:15.92MB ... code:70853": MB is rounded; a budget line that follows gives the exact total
        log.model_bytes = Located(lineno, round(float(m["mb"]) * 1e6), raw, "artifact (rounded to 10 kB)")
        log.code_bytes = Located(lineno, int(m["code"]), raw)
        return
    m = P["gptq_reserve"].match(line)
    if m:
        seconds = float(m["amount"]) / (1000 if m["unit"] == "ms" else 1)
        log.gptq_reserved = Located(lineno, seconds, raw)
        return
    m = P["val_tokens"].match(line)
    if m:
        log.val_tokens = int(m["n"])


def _sliding_markers(text: str, P) -> list[int]:
    return [i for i, raw in enumerate(text.splitlines(), start=1) if P["eval_mode_sliding"].match(TIMESTAMP.sub("", raw))]


def _with_twin_times(metrics: list[MetricLine]) -> list[MetricLine]:
    """An ``_exact`` line without eval_time takes it from the 4-decimal line just before it."""
    out = []
    for m in metrics:
        if m.eval_ms is None and out and _base(out[-1].label) == _base(m.label) and out[-1].eval_ms is not None:
            m = dataclasses.replace(m, eval_ms=out[-1].eval_ms)
        out.append(m)
    return out


def _choose_reported(log: ParsedLog, sliding_marker_lines: list[int]) -> None:
    log.metrics = _with_twin_times(log.metrics)
    finals = log.final_metrics()
    if not finals:
        return
    last = finals[-1]
    earlier = [m for m in finals[:-1] if m.mode != "alias"]
    same = [m for m in earlier if abs(m.val_bpb - last.val_bpb) < 5e-9 and _base(m.label) != _base(last.label)]
    if last.mode == "alias" or (same and last.mode == "roundtrip"):
        if same:
            origin = same[0]
            log.reported, log.reported_mode = last, origin.mode
            log.reported_reason = (f"line {last.line} '{last.label}' repeats the value of '{origin.label}' at line "
                                   f"{origin.line}: an alias of that {origin.mode} result")
            return
        if last.mode == "alias" and earlier:
            log.reported, log.reported_mode = last, earlier[-1].mode
            log.reported_reason = f"bare 'val_bpb:' line {last.line} (no earlier final line has this value)"
            return
    if last.mode == "roundtrip" and any(s < last.line for s in sliding_marker_lines):
        marker = max(s for s in sliding_marker_lines if s < last.line)
        log.reported, log.reported_mode = last, "sliding"
        log.reported_reason = (f"line {last.line} is labelled '{last.label}' but the script switched to sliding-window "
                               f"evaluation at line {marker}: a sliding result under the old label")
        return
    mode, twin = last.mode, ""
    if len(finals) > 1 and _base(finals[-2].label) == _base(last.label):
        # the 8-decimal `_exact` line repeats the line before it, which may carry the mode (e.g. eval_mode:online_ttt)
        mode = finals[-2].mode if finals[-2].mode != last.mode else mode
        twin = f" (the 8-decimal twin of line {finals[-2].line})"
    log.reported, log.reported_mode = last, mode
    log.reported_reason = f"last final-metric line, line {last.line} '{last.label}'{twin}"


def _base(label: str) -> str:
    return re.sub(r"_exact\b", "", label)


def _find_seed(log: ParsedLog, text: str, P, path: Path) -> None:
    seeds = [int(m["seed"]) for raw in text.splitlines() if (m := P["seed"].match(TIMESTAMP.sub("", raw)))]
    named = _seed_from_name(path.name)
    log.name_seed = named
    if seeds:
        log.seed, log.seed_source = seeds[-1], "hyperparameter line in the log"
        if named is not None and named != seeds[-1]:
            log.notes.append(f"the file name says seed {named} but the log's hyperparameters say seed {seeds[-1]}")
        return
    if named is not None:
        log.seed, log.seed_source = named, "file name"
