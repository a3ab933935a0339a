import pytest

from harness.audit.logparse import classify_label, parse_log
from tests.audit.builders import run_log


def write(tmp_path, text, name="train_seed42.log"):
    p = tmp_path / name
    p.write_text(text) if isinstance(text, str) else p.write_bytes(text)
    return p


@pytest.mark.parametrize(
    "line,label,kind,mode",
    [
        ("final_int8_zlib_roundtrip val_loss:2.0727 val_bpb:1.2244 eval_time:1401ms", "final_int8_zlib_roundtrip", "final", "roundtrip"),
        ("final_int8_zlib_roundtrip_exact val_loss:2.07269931 val_bpb:1.22436570", "final_int8_zlib_roundtrip_exact", "final", "roundtrip"),
        ("final_int6_sliding_window val_loss:1.9 val_bpb:1.12 stride:64 eval_time:70000ms", "final_int6_sliding_window", "final", "sliding"),
        ("final_sliding_window_eval_exact stride:64 val_loss:1.96 val_bpb:1.16", "final_sliding_window_eval_exact stride:64", "final", "sliding"),
        ("final_int8_zlib_roundtrip sliding val_loss:2.0212 sliding val_bpb:1.1971 eval_time:149579ms", "final_int8_zlib_roundtrip sliding", "final", "sliding"),
        ("final_sliding val_loss:2.9 val_bpb:1.15 (stride=16, T=0.90) eval_time:400000ms", "final_sliding", "final", "sliding"),
        ("quantized_sliding_window val_loss:2.79 val_bpb:1.0828 eval_time:120961ms", "quantized_sliding_window", "final", "sliding"),
        ("legal_ttt_exact val_loss:2.79 val_bpb:1.0808", "legal_ttt_exact", "final", "ttt"),
        ("ttt_sliding:done val_loss=2.79 val_bpb=1.0808 elapsed=300.1s", "ttt_sliding:done", "final", "ttt"),
        ("quantized_ttt val_loss:2.79 val_bpb:1.0808 eval_time:366525ms", "quantized_ttt", "final", "ttt"),
        ("quantized_ttt_lora val_loss:2.7 val_bpb:1.07 eval_time:300000ms", "quantized_ttt_lora", "final", "ttt_lora"),
        ("final_int8_ttt_lora val_loss:2.0 val_bpb:1.19 eval_time:60000ms", "final_int8_ttt_lora", "final", "ttt_lora"),
        ("quantized_ttt_phased val_loss:2.7 val_bpb:1.06 eval_time:400000ms", "quantized_ttt_phased", "final", "ttt_phased"),
        ("quantized val_loss:2.84 val_bpb:1.0997 eval_time:25515ms", "quantized", "final", "roundtrip"),
        ("final_ternary_roundtrip val_loss:2.9 val_bpb:1.16", "final_ternary_roundtrip", "final", "roundtrip"),
        ("pre-quantization post-ema val_loss:2.8 val_bpb:1.087 eval_time:7440ms", "pre-quantization post-ema", "diagnostic", "pre_quant"),
        ("diagnostic pre-quantization post-ema val_loss:2.8 val_bpb:1.087 eval_time:7440ms", "diagnostic pre-quantization post-ema", "diagnostic", "pre_quant"),
        ("DIAGNOSTIC post_ema val_loss:2.8 val_bpb:1.087 eval_time:7440ms", "DIAGNOSTIC post_ema", "diagnostic", "pre_quant"),
        ("diagnostic quantized val_loss:2.8 val_bpb:1.09 eval_time:7440ms", "diagnostic quantized", "diagnostic", "roundtrip"),
    ],
)
def test_every_final_metric_format_in_the_catalogue(tmp_path, line, label, kind, mode):
    log = parse_log(write(tmp_path, line + "\n"))
    m = log.metrics[-1]
    assert (m.label, m.kind, m.mode) == (label, kind, mode)
    assert classify_label(label) == (kind, mode)


def test_reported_number_sizes_times_and_curve(tmp_path):
    log = parse_log(write(tmp_path, run_log(seed=42, bpb=1.23456789, model_bytes=15_500_000, code_bytes=48_000, train_ms=599_000, steps=4000)))
    assert log.seed == 42 and log.seed_source.startswith("hyperparameter")
    assert log.reported.label == "final_int8_zlib_roundtrip_exact" and log.reported.val_bpb == pytest.approx(1.23456789)
    assert log.reported.eval_ms == 70_000  # taken from the 4-decimal twin on the line before
    assert "8-decimal twin" in log.reported_reason
    assert log.model_bytes.value == 15_500_000 and log.code_bytes.value == 48_000
    assert log.total_bytes.value == 15_548_000 and log.total_bytes.tag == "int8+zlib"
    assert log.train_time_ms.value == 599_000 and log.steps == 4000
    assert [s for s, _ in log.train_curve] == [1, 2000, 4000] and log.val_curve[-1][0] == 4000
    # the source code the script logged about itself never matched
    assert all("{" not in m.text for m in log.metrics)


def test_timestamps_are_stripped(tmp_path):
    log = parse_log(write(tmp_path, run_log(bpb=1.1, timestamp=True)))
    assert log.reported is not None and log.reported.val_bpb == pytest.approx(1.1)


def test_label_that_lies_after_switch_to_sliding(tmp_path):
    text = run_log(bpb=1.19250007).replace("final_int8_zlib_roundtrip val_loss", "final_eval_mode:sliding_window stride:64 batch_seqs:1024\nfinal_int8_zlib_roundtrip val_loss")
    log = parse_log(write(tmp_path, text))
    assert log.reported.label == "final_int8_zlib_roundtrip_exact" and log.reported_mode == "sliding"
    assert "switched to sliding-window" in log.reported_reason


def test_alias_line_repeating_an_earlier_result(tmp_path):
    text = run_log(bpb=1.5, tail_lines=(
        "final_int6_sliding_window val_loss:1.9000 val_bpb:1.1248 stride:64 eval_time:72000ms",
        "final_int6_sliding_window_exact val_loss:1.90000000 val_bpb:1.12484502",
        "final_int8_zlib_roundtrip_exact val_loss:1.90000000 val_bpb:1.12484502",
    ))
    log = parse_log(write(tmp_path, text))
    assert log.reported.val_bpb == pytest.approx(1.12484502) and log.reported_mode == "sliding"
    assert "alias" in log.reported_reason and "final_int6_sliding_window_exact" in log.reported_reason


def test_bare_val_bpb_line_is_an_alias(tmp_path):
    text = run_log(bpb=1.5, tail_lines=(
        "final_int6_sliding_window_exact val_loss:1.90000000 val_bpb:1.12278022",
        "val_bpb:          1.12278022",
    ))
    log = parse_log(write(tmp_path, text))
    assert log.reported.label == "val_bpb" and log.reported_mode == "sliding"


def test_last_occurrence_wins_for_concatenated_runs(tmp_path):
    log = parse_log(write(tmp_path, run_log(bpb=1.4, seed=1) + run_log(bpb=1.3, seed=2)))
    assert log.reported.val_bpb == pytest.approx(1.3) and log.seed == 2


def test_truncated_log_has_no_reported_number(tmp_path):
    text = run_log(bpb=1.2)
    log = parse_log(write(tmp_path, text[: text.index("Serialized")]))
    assert log.reported is None and any("truncated" in n for n in log.notes)
    assert log.train_time_ms is not None  # what is there is still read


def test_non_utf8_bytes_do_not_crash(tmp_path):
    raw = run_log(bpb=1.2).encode().replace(b"seed:1337", b"seed:1337 \xff\xfe caf\xe9")
    log = parse_log(write(tmp_path, raw))
    assert log.reported.val_bpb == pytest.approx(1.2) and any("not UTF-8" in n for n in log.notes)


def test_seed_in_file_name_disagreeing_with_the_log_is_noted(tmp_path):
    log = parse_log(write(tmp_path, run_log(seed=1337), name="train_seed2026.log"))
    assert log.seed == 1337 and log.name_seed == 2026
    assert any("file name says seed 2026" in n for n in log.notes)


def test_budget_line_gives_exact_model_bytes(tmp_path):
    text = "artifact:15.92MB ternary:64880640(14239486B) fp:2513744(2537376B) code:70853\nbudget:15993853/16000000 (15.99/16.00MB) FITS\nfinal_sliding val_loss:2.9 val_bpb:1.15 (stride=16, T=0.90) eval_time:1ms\n"
    log = parse_log(write(tmp_path, text))
    assert log.model_bytes.value == 15993853 - 70853 and log.code_bytes.value == 70853
