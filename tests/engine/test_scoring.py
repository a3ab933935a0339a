import math

import numpy as np
import torch

from harness.engine.scoring import LN2, ScoreSums, token_nll


def test_token_nll_is_negative_log_softmax_of_the_target():
    logits = torch.tensor([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 0.0, 0.0]])
    targets = torch.tensor([2, 0])
    got = token_nll(logits, targets)
    want = [-(0.5 - math.log(sum(math.exp(v) for v in [1.0, 2.0, 0.5, -1.0]))), math.log(4)]
    assert np.allclose(got.numpy(), want, atol=1e-6)


def test_token_nll_upcasts_bf16_and_keeps_float64():
    logits = torch.randn(3, 5, 11)
    t = torch.randint(0, 11, (3, 5))
    assert token_nll(logits.bfloat16(), t).dtype == torch.float32
    assert token_nll(logits.double(), t).dtype == torch.float64


def test_bpb_is_a_ratio_of_sums_not_a_mean_of_ratios():
    s = ScoreSums()
    s.add(torch.tensor([1.0, 3.0]), 2)  # 2 tokens, 2 bytes
    s.add(torch.tensor([2.0]), 6)  # 1 token, 6 bytes
    assert s.token_count == 3 and s.byte_count == 8
    assert math.isclose(s.val_loss, 2.0)
    assert math.isclose(s.val_bpb, 6.0 / (LN2 * 8))
    # = val_loss / ln 2 * tokens / bytes, the challenge's formula
    assert math.isclose(s.val_bpb, (s.val_loss / LN2) * (3 / 8))
