"""What a claim rests on: repeated runs over seeds, bootstrap intervals, paired tests, and a verdict.

A comparison narrated in a lesson is either repeated over seeds (`over_seeds` +
`seed_interval`) or tested on the same evaluation items (`paired_interval`, `mcnemar_p`); two different item sets
(in-domain and shifted) are compared with `unpaired_interval`. `verdict` turns the interval of the difference into
"held", "not distinguishable here" or "reversed".

Used in lessons: 01, 02, 03, 04, 05, 06, 07, 08, 09, 10, 11
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import stats as scipy_stats

from sft_helpers.progress import progress_bar

Score = Callable[[np.ndarray, np.ndarray], float]
LEVEL = 0.95
POWER = 0.8  # the chance an experiment finds an effect of its detectable size (the usual convention)
RESAMPLES = 2000
HELD, NOT_DISTINGUISHABLE, REVERSED = "held", "not distinguishable here", "reversed"
CLAIM_MIME = "application/vnd.sft-course.claim+json"


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval."""

    estimate: float
    low: float
    high: float
    level: float = LEVEL

    def contains(self, value: float) -> bool:
        """Whether `value` lies inside the interval (ends included)."""
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.estimate:.3g} [{self.low:.3g}, {self.high:.3g}]"

    def standard_error(self) -> float:
        """The standard error the interval implies: its width over twice the normal quantile of its level."""
        return (self.high - self.low) / (2 * scipy_stats.norm.ppf((1 + self.level) / 2))

    def detectable_effect(self, power: float = POWER) -> float:
        """The smallest effect this experiment finds with probability `power` at its level (about 2.8 standard errors
        at 95% and 80%): what a "not distinguishable" verdict can speak to; smaller effects it could easily miss."""
        return float((scipy_stats.norm.ppf((1 + self.level) / 2) + scipy_stats.norm.ppf(power)) * self.standard_error())

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units (e.g. ×100 for percentage points)."""
        return Interval(self.estimate * factor, self.low * factor, self.high * factor, self.level)


def seed_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """Mean of repeated runs with a Student-t interval (the runs differ only in their seed)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2 or np.allclose(values, mean):
        return Interval(mean, mean, mean, level)
    half = scipy_stats.t.ppf((1 + level) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return Interval(mean, float(mean - half), float(mean + half), level)


def over_seeds(run: Callable[[int], float], seeds: Sequence[int], desc: str = "seeds") -> list[float]:
    """`run(seed)` for every seed, with a progress bar."""
    return [run(seed) for seed in progress_bar(iterable=list(seeds), desc=desc, leave=False)]


def _bootstrap(statistic: Callable[[np.ndarray], float], size: int, level: float, seed: int) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic(rows)` over resampled row indices (SciPy)."""
    result = scipy_stats.bootstrap(
        (np.arange(size),), statistic, vectorized=False, n_resamples=RESAMPLES, confidence_level=level,
        method="percentile", random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return float(low), float(high)


def bootstrap_interval(truth: Sequence, predicted: Sequence, score: Score, level: float = LEVEL,
                       seed: int = 0) -> Interval:
    """`score(truth, predicted)` with a percentile bootstrap interval over the evaluated items."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    low, high = _bootstrap(lambda rows: score(truth[rows], predicted[rows]), len(truth), level, seed)
    return Interval(float(score(truth, predicted)), low, high, level)


def accuracy_over_seeds(truth: Sequence, guesses: Sequence) -> float:
    """Accuracy averaged over seeds: `guesses` holds one column of predictions per seed (a `Score`)."""
    return float((np.asarray(guesses) == np.asarray(truth)[:, None]).mean())


def paired_interval(truth: Sequence, predicted_a: Sequence, predicted_b: Sequence, score: Score,
                    level: float = LEVEL, seed: int = 0) -> Interval:
    """score(A) − score(B) on the same items, with a paired bootstrap interval (items resampled together)."""
    truth, a, b = np.asarray(truth), np.asarray(predicted_a), np.asarray(predicted_b)

    def difference(rows: np.ndarray) -> float:
        return score(truth[rows], a[rows]) - score(truth[rows], b[rows])

    if np.array_equal(a, b):
        return Interval(0.0, 0.0, 0.0, level)
    low, high = _bootstrap(difference, len(truth), level, seed)
    return Interval(float(difference(np.arange(len(truth)))), low, high, level)


def unpaired_interval(truth_a: Sequence, predicted_a: Sequence, truth_b: Sequence, predicted_b: Sequence,
                      score: Score, level: float = LEVEL, seed: int = 0) -> Interval:
    """score(A) − score(B) on two different item sets (e.g. in-domain vs shifted), each set resampled on its own."""
    truth_a, a, truth_b, b = map(np.asarray, (truth_a, predicted_a, truth_b, predicted_b))

    def difference(rows_a: np.ndarray, rows_b: np.ndarray) -> float:
        return score(truth_a[rows_a], a[rows_a]) - score(truth_b[rows_b], b[rows_b])

    result = scipy_stats.bootstrap(
        (np.arange(len(a)), np.arange(len(b))), difference, vectorized=False, paired=False, n_resamples=RESAMPLES,
        confidence_level=level, method="percentile", random_state=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Interval(float(difference(np.arange(len(a)), np.arange(len(b)))), float(low), float(high), level)


def mcnemar_p(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> float:
    """Exact McNemar test: p-value that A and B err equally often on the items where exactly one is right."""
    correct_a, correct_b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    only_a, only_b = int((correct_a & ~correct_b).sum()), int((~correct_a & correct_b).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)


def verdict(difference: Interval, margin: float = 0.0) -> str:
    """'held' when the whole interval of (A − B) is above `margin`, 'reversed' when below −margin, else not distinguishable."""
    if difference.low > margin:
        return HELD
    if difference.high < -margin:
        return REVERSED
    return NOT_DISTINGUISHABLE


def non_inferior(difference: Interval, margin: float) -> str:
    """An "A does as well as B" verdict against a margin fixed in advance: 'held' when the whole interval of (A − B)
    lies above −margin (A loses less than the margin), 'reversed' when it lies wholly below, else not distinguishable."""
    if margin <= 0:
        raise ValueError(f"an 'as well as' claim needs a positive margin, got {margin}")
    if difference.low >= -margin:
        return HELD
    return REVERSED if difference.high < -margin else NOT_DISTINGUISHABLE


@dataclass(frozen=True)
class Claim:
    """One row of the claims ledger: what was claimed, what this run measured, and the verdict."""

    lesson: str
    claim: str
    measured: str
    effect: Interval
    unit: str
    verdict: str
    margin: float | None = None  # "as well as" claims: the loss that still counts as "as well", fixed in advance

    def sentence(self) -> str:
        """The claim and its measurement in one line of prose."""
        margin = "" if self.margin is None else f" (margin {self.margin:g} {self.unit})"
        return f"**Claim →** {self.claim}: {self.measured}, {self.effect} {self.unit}{margin} → **{self.verdict}**."


def record_claim(lesson: str, claim: str, measured: str, effect: Interval, unit: str, verdict_: str,
                 margin: float | None = None) -> Claim:
    """Show a claim as a line of Markdown and attach it as data, for the book's claims ledger; a zero-width interval
    is refused: it comes from a measure that can only take a few fixed values, not from evidence."""
    from IPython.display import display  # only notebooks record claims

    if not effect.high > effect.low:
        raise ValueError(f"the interval of {claim!r} has zero width ({effect}): measure it so that it can vary")
    found = Claim(lesson, claim, measured, effect, unit, verdict_, margin)
    display({"text/markdown": found.sentence(), "text/plain": found.sentence(),
             CLAIM_MIME: json.loads(json.dumps(asdict(found)))}, raw=True)
    return found
