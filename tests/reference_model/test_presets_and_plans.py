"""Preset parameter counts (from docs/reference_model.md) and execution plans for every recurrence mode."""

import pytest
import torch

from reference_model.config import PRESETS, apply_overrides, preset
from reference_model.gpt import GPT, count_parameters
from reference_model.plan import build_plan, describe, max_passes, num_skip_slots

EXPECTED_PARAMS = {
    "pr1493": 35_944_536,
    "pr1552_asis": 35_966_555,  # #1493 + smear 512 + shared LoRA 21,507 + pass embeddings 3,072 - 3 skip slots
    "pr1552_fixed": 35_990_622,  # #1493 + per-pass LoRA 43,014 + pass embeddings 3,072
    "pr1181": 27_215_454,
    "pr1230": 26_698_335 + 2_560,  # model incl. 3 residual scales, plus the error feedback
    "pr1096": 23_533_636,
    # #298 as scoped: 3 x (attention with low-rank K 1,357,824 + MLP 2,359,296) + two 1024x768 embeddings
    # + 9 per-pass control sets + 3 per-pass skip weights + q gains; its exotic modules (TD, GRU carry,
    # exit gate, resonant gates) are not implemented, so this is below its logged 12,836,768.
    "pr298": 3 * (589_824 + 24_576 + 6_144 + 147_456 + 589_824 + 2_359_296) + 2 * 786_432 + 9 * 4 * 768 + 3 * 768 + 24,
    "tiny_cpu": 309_148,
}


def test_every_preset_has_an_expected_count():
    assert set(PRESETS) == set(EXPECTED_PARAMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_preset_parameter_count(name):
    with torch.device("meta"):
        model = GPT(preset(name).model)
    assert count_parameters(model) == EXPECTED_PARAMS[name]


PLANS = {
    ("pr1493", 1): "0 1 2 3 4 5 6 7 8 9 10",
    ("pr1493", 3): "0 1 2 3 4 5 3' 4' 5' 3'' 4'' 5'' 6 7 8 9 10",
    ("pr1181", 2): "0 1 2 3 4 4' 5 5' 6 7 8 9 10",
    ("pr1230", 2): "0 1 2 3 4 5 6 4' 5' 6' 7 8 9 10",
    ("pr1096", 3): "0 1 2 3 4 1' 2' 3' 4' 1'' 2'' 3'' 4'' 5",
    ("pr298", 3): "0 1 2 0' 1' 2' 0'' 1'' 2''",
    ("tiny_cpu", 3): "0 1 2 3 2' 3' 2'' 3'' 4 5",
}


@pytest.mark.parametrize("name,passes", sorted(PLANS))
def test_plan_order(name, passes):
    assert describe(build_plan(preset(name).model, passes)) == PLANS[(name, passes)]


def test_pr1493_unet_skips_match_the_record():
    cfg = preset("pr1493").model
    assert num_skip_slots(cfg) == 8
    looped = build_plan(cfg, 3)
    enc = [s.layer for s in looped if s.push]
    dec = [s.layer for s in looped if not s.push]
    assert enc == [0, 1, 2, 3, 4, 5, 3, 4] and dec == [5, 3, 4, 5, 6, 7, 8, 9, 10]
    assert [s.pop for s in looped if s.pop is not None] == list(range(8))
    off = build_plan(cfg, 1)
    assert sum(s.push for s in off) == 5 and [s.pop for s in off if s.pop is not None] == list(range(5))


def test_physical_basis_pushes_after_the_last_repeat():
    cfg = preset("pr1181").model
    plan = build_plan(cfg, 2)
    pushes = [(s.layer, s.pass_idx) for s in plan if s.push]
    assert pushes == [(0, 0), (1, 0), (2, 0), (3, 0), (4, 1)]  # layer 4 pushes after its second pass
    assert [(s.layer, s.pop) for s in plan if s.pop is not None] == [(5, 0), (6, 1), (7, 2), (8, 3), (9, 4)]


def test_pass_indices_count_earlier_executions():
    plan = build_plan(preset("tiny_cpu").model, 3)
    assert [(s.layer, s.pass_idx) for s in plan if s.layer in (2, 3)] == [(2, 0), (3, 0), (2, 1), (3, 1), (2, 2), (3, 2)]
    assert max_passes(preset("tiny_cpu").model) == 3


def test_overrides_and_validation():
    p = apply_overrides(preset("tiny_cpu"), ["model.vocab_size=1024", "train.iterations=7", "recur.enable_at=0.5"])
    assert p.model.vocab_size == 1024 and p.train.iterations == 7 and p.model.recur.enable_at == 0.5
    with pytest.raises(KeyError):
        apply_overrides(preset("tiny_cpu"), ["model.no_such_field=1"])
    with pytest.raises(ValueError, match="loop segment"):
        apply_overrides(preset("tiny_cpu"), ["recur.end=9"])
