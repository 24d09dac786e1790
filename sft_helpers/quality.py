"""Label quality beyond rules: annotator agreement and adjudication, suspected label errors, paraphrased re-posts.

Rules (`sft_helpers.cleaning`) fix what has a pattern; these functions find what has none.

Used in lessons: 01
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score, precision_score, recall_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict


def kappa_per_class(first: Sequence[str], second: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    """Cohen's κ overall and, for each class, of the one-vs-rest decision "is it this class?"."""
    first, second = np.asarray(first), np.asarray(second)
    per_class = {name: cohen_kappa_score(first == name, second == name) for name in classes}
    return {"overall": cohen_kappa_score(first, second), **per_class}


def adjudicate(first: Sequence[str], second: Sequence[str], third: Sequence[str]) -> list[str]:
    """The label two of three annotators chose; where all three differ, the third annotator's (the adjudicator)."""
    decided = []
    for labels in zip(first, second, third):
        label, votes = Counter(labels).most_common(1)[0]
        decided.append(label if votes >= 2 else labels[2])
    return decided


def out_of_fold_probabilities(vectors: np.ndarray, labels: Sequence[str], folds: int = 5,
                              seed: int = 0) -> pd.DataFrame:
    """Class probabilities for every row from a logistic regression that never saw that row (k-fold)."""
    classes = sorted(set(labels))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probabilities = cross_val_predict(LogisticRegression(max_iter=2000), vectors, list(labels), cv=splitter,
                                      method="predict_proba")
    return pd.DataFrame(probabilities, columns=classes)


def given_label_probability(probabilities: pd.DataFrame, labels: Sequence[str]) -> np.ndarray:
    """For each row, the out-of-fold probability of the label it was given (low = suspect)."""
    columns = probabilities.columns.get_indexer(list(labels))
    return probabilities.to_numpy()[np.arange(len(columns)), columns]


def suspected_label_errors(probabilities: pd.DataFrame, labels: Sequence[str], threshold: float = 0.2) -> np.ndarray:
    """Rows whose given label gets out-of-fold probability below `threshold` while another class is preferred."""
    given = given_label_probability(probabilities, labels)
    preferred = probabilities.columns[probabilities.to_numpy().argmax(axis=1)]
    return (given < threshold) & (preferred != np.asarray(labels))


def detector_scores(flagged: Sequence[bool], truly_wrong: Sequence[bool]) -> dict[str, float]:
    """Precision and recall of a label-error detector against the planted truth, and how many rows it flagged."""
    flagged, truly_wrong = np.asarray(flagged, dtype=bool), np.asarray(truly_wrong, dtype=bool)
    return {"flagged": int(flagged.sum()), "planted": int(truly_wrong.sum()),
            "precision": precision_score(truly_wrong, flagged, zero_division=0),
            "recall": recall_score(truly_wrong, flagged, zero_division=0)}


def paraphrase_pairs(vectors: np.ndarray, threshold: float = 0.9) -> list[tuple[int, int, float]]:
    """Pairs of rows whose sentence vectors have cosine similarity >= `threshold` (likely the same review reworded)."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = np.triu(unit @ unit.T, k=1)
    first, second = np.nonzero(similarity >= threshold)
    return sorted(zip(first.tolist(), second.tolist(), similarity[first, second].round(3).tolist()),
                  key=lambda pair: -pair[2])
