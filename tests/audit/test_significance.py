import math

import pytest

from harness.audit.significance import welch_improvement


def test_welch_against_a_hand_computation():
    new = [2.780, 2.782, 2.784]  # mean 2.782, sample variance 4e-6
    old = [2.800, 2.803, 2.806]  # mean 2.803, sample variance 9e-6
    # H0: mean(new) >= mean(old) - 0.005. Shifted old mean 2.798; difference 2.798 - 2.782 = 0.016.
    # Standard error sqrt(4e-6/3 + 9e-6/3) = sqrt(4.3333e-6) = 0.00208167.
    # t = 0.016 / 0.00208167 = 7.6861.
    # Welch df = (4e-6/3 + 9e-6/3)^2 / ((4e-6/3)^2/2 + (9e-6/3)^2/2)
    #          = (4.3333e-6)^2 / (8.8889e-13 + 4.5e-12) = 1.87778e-11 / 5.38889e-12 = 3.4845.
    r = welch_improvement(new, old)
    assert r.t == pytest.approx(7.6861, rel=1e-4)
    assert r.df == pytest.approx(3.4845, rel=1e-4)
    # one-sided p = P(T_df > t); with df 3.48 and t 7.69 it is about 0.0025
    from scipy import stats

    assert r.p == pytest.approx(stats.t.sf(7.6861, 3.4845), rel=1e-3)
    assert 0.001 < r.p < 0.01 and r.significant
    assert r.mean_new == pytest.approx(2.782) and r.std_old == pytest.approx(math.sqrt(9e-6))


def test_improvement_smaller_than_the_margin_is_not_significant():
    r = welch_improvement([2.800, 2.801, 2.802], [2.803, 2.804, 2.805])  # only 0.003 nats better
    assert r.t < 0 and r.p > 0.5 and not r.significant


def test_needs_two_values_per_side():
    with pytest.raises(ValueError):
        welch_improvement([2.8], [2.9, 2.91])
