"""Intervals, paired tests and verdicts: the statistics every lesson's claims rest on."""
import json
from dataclasses import asdict

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from sft_helpers import stats


def correct_answers(rate: float, size: int, seed: int) -> np.ndarray:
    """Labels 1 where a simulated model is right (about `rate` of `size` items)."""
    return (np.random.default_rng(seed).random(size) < rate).astype(int)


def test_seed_interval_is_a_t_interval_around_the_mean():
    interval = stats.seed_interval([0.80, 0.82, 0.78, 0.81, 0.79])
    assert interval.estimate == pytest.approx(0.80)
    half = 2.776 * np.std([0.80, 0.82, 0.78, 0.81, 0.79], ddof=1) / np.sqrt(5)  # t(0.975, 4) = 2.776
    assert (interval.low, interval.high) == pytest.approx((0.80 - half, 0.80 + half), abs=1e-4)


def test_seed_interval_of_identical_runs_is_a_point():
    interval = stats.seed_interval([0.5, 0.5, 0.5])
    assert (interval.low, interval.estimate, interval.high) == (0.5, 0.5, 0.5)


def test_bootstrap_interval_covers_the_true_rate_and_narrows_with_more_items():
    truth = np.ones(2000, dtype=int)
    small = stats.bootstrap_interval(truth[:100], correct_answers(0.7, 100, 1), accuracy_score)
    large = stats.bootstrap_interval(truth, correct_answers(0.7, 2000, 2), accuracy_score)
    assert small.contains(0.7) and large.contains(0.7)
    assert (large.high - large.low) < (small.high - small.low) / 2


def test_paired_interval_finds_a_real_difference():
    truth = np.ones(400, dtype=int)
    better = correct_answers(0.85, 400, 3)
    worse = better * correct_answers(0.8, 400, 4)  # wrong wherever `better` is wrong, and on more items
    difference = stats.paired_interval(truth, better, worse, accuracy_score)
    assert difference.low > 0
    assert stats.verdict(difference) == stats.HELD
    assert stats.verdict(stats.paired_interval(truth, worse, better, accuracy_score)) == stats.REVERSED


def test_paired_interval_says_not_distinguishable_for_two_equal_models():
    truth = np.ones(150, dtype=int)
    a, b = correct_answers(0.8, 150, 5), correct_answers(0.8, 150, 6)  # same skill, different mistakes
    difference = stats.paired_interval(truth, a, b, accuracy_score)
    assert difference.contains(0.0)
    assert stats.verdict(difference) == stats.NOT_DISTINGUISHABLE


def test_paired_interval_of_identical_predictions_is_zero():
    truth = np.array([0, 1, 1, 0])
    assert stats.paired_interval(truth, truth, truth, accuracy_score) == stats.Interval(0.0, 0.0, 0.0)


def test_unpaired_interval_separates_two_item_sets_only_when_they_differ():
    truth = np.ones(300, dtype=int)
    easy, hard = correct_answers(0.9, 300, 7), correct_answers(0.6, 200, 8)
    shift = stats.unpaired_interval(truth, easy, truth[:200], hard, accuracy_score)
    assert shift.estimate == pytest.approx(easy.mean() - hard.mean())
    assert stats.verdict(shift) == stats.HELD
    same = stats.unpaired_interval(truth, easy, truth[:200], correct_answers(0.9, 200, 9), accuracy_score)
    assert stats.verdict(same) == stats.NOT_DISTINGUISHABLE


def test_accuracy_over_seeds_averages_the_columns():
    truth = np.array([0, 1, 2, 1])
    guesses = np.array([[0, 0], [1, 2], [2, 2], [0, 0]])
    assert stats.accuracy_over_seeds(truth, guesses) == pytest.approx(5 / 8)


def test_mcnemar_p_is_small_only_when_one_side_wins_the_disagreements():
    right = np.ones(60, dtype=bool)
    mostly_wrong = np.r_[np.zeros(20, dtype=bool), np.ones(40, dtype=bool)]
    assert stats.mcnemar_p(right, mostly_wrong) < 0.001  # 20 items only A gets right, 0 only B
    balanced = np.r_[np.ones(10, dtype=bool), np.zeros(10, dtype=bool)]
    assert stats.mcnemar_p(balanced, ~balanced) == pytest.approx(1.0)
    assert stats.mcnemar_p(right, right) == 1.0


def test_verdict_respects_a_margin():
    small_gain = stats.Interval(0.02, 0.005, 0.035)
    assert stats.verdict(small_gain) == stats.HELD
    assert stats.verdict(small_gain, margin=0.01) == stats.NOT_DISTINGUISHABLE


def test_over_seeds_runs_each_seed_once():
    assert stats.over_seeds(lambda seed: seed * 2.0, [1, 2, 3]) == [2.0, 4.0, 6.0]


def test_record_claim_attaches_ledger_data(capsys):
    claim = stats.record_claim("02", "pretrained beats scratch", "accuracy gain", stats.Interval(0.3, 0.2, 0.4),
                               "points", stats.HELD)
    assert claim.verdict == stats.HELD and "pretrained beats scratch" in claim.sentence()
    assert json.loads(json.dumps(asdict(claim)))["effect"]["low"] == 0.2


def test_record_claim_refuses_a_zero_width_interval():
    with pytest.raises(ValueError, match="zero width"):
        stats.record_claim("04", "Adam trains more stably", "decades on a grid", stats.Interval(1.0, 1.0, 1.0),
                           "decades", stats.HELD)


def test_as_well_as_claims_are_judged_against_a_margin():
    from sft_helpers.stats import HELD, NOT_DISTINGUISHABLE, REVERSED, Interval, non_inferior

    assert non_inferior(Interval(-1.0, -4.0, 2.0), 5) == HELD
    assert non_inferior(Interval(-4.0, -9.0, 1.0), 5) == NOT_DISTINGUISHABLE  # [-38.9, 2.85] is not parity
    assert non_inferior(Interval(-12.0, -18.0, -7.0), 5) == REVERSED
    assert non_inferior(Interval(4.5, 0.2, 9.6), 5) == HELD  # better than the reference is "as well as" too
    with pytest.raises(ValueError, match="positive margin"):
        non_inferior(Interval(0.0, -1.0, 1.0), 0)


def test_detectable_effect_is_about_2_8_standard_errors():
    interval = stats.Interval(0.0, -3.92, 3.92)  # a 95% interval of standard error 2
    assert interval.standard_error() == pytest.approx(2.0, rel=1e-3)
    assert interval.detectable_effect() == pytest.approx(2.8 * 2.0, rel=0.01)
    assert interval.detectable_effect(power=0.9) > interval.detectable_effect()


def test_an_effect_of_the_detectable_size_is_found_about_four_times_in_five():
    rng = np.random.default_rng(0)
    width = stats.seed_interval(rng.normal(0.0, 1.0, 400)).detectable_effect()
    found = [stats.verdict(stats.seed_interval(rng.normal(width, 1.0, 400))) == stats.HELD for _ in range(400)]
    assert 0.74 < np.mean(found) < 0.86
