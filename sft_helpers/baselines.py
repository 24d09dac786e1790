"""The classic baseline fine-tuning has to beat: TF-IDF features and logistic regression (scikit-learn).

Used in lessons: 07, 08, 10
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline, make_pipeline

REGULARISATION_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)


@dataclass
class Baseline:
    """A fitted TF-IDF + logistic-regression pipeline and the validation accuracy of each C tried."""

    pipeline: Pipeline
    chosen_c: float
    validation_accuracy: dict[float, float]

    def predict(self, texts: Sequence[str]) -> list:
        """Predicted labels for `texts`."""
        return list(self.pipeline.predict(list(texts)))


def tfidf_logistic_regression(c: float) -> Pipeline:
    """Word unigrams and bigrams, TF-IDF weighted, into an L2-regularised logistic regression with inverse strength C."""
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                         LogisticRegression(C=c, max_iter=2000))


def fit_tfidf_baseline(train_texts: Sequence[str], train_labels: Sequence, validation_texts: Sequence[str],
                       validation_labels: Sequence, grid: Sequence[float] = REGULARISATION_GRID) -> Baseline:
    """Fit the baseline for every C in `grid`, keep the one with the best validation accuracy (first on ties)."""
    scores, fitted = {}, {}
    for c in grid:
        fitted[c] = tfidf_logistic_regression(c).fit(list(train_texts), list(train_labels))
        scores[c] = accuracy_score(list(validation_labels), fitted[c].predict(list(validation_texts)))
    best = max(grid, key=lambda c: scores[c])
    return Baseline(fitted[best], best, scores)
