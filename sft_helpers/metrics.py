"""Classification and regression reports on top of scikit-learn; scores of generated texts (sacreBLEU's BLEU and
chrF, exact match), with bootstrap intervals for the corpus scores.

Used in lessons: 02, 03, 04, 05, 06, 07, 08, 09, 10
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import sacrebleu
import torch
from sklearn import metrics as skm

from sft_helpers.stats import Interval, bootstrap_interval, paired_interval, unpaired_interval
from sft_helpers.tasks import Task


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Accuracy and macro-F1 of class logits: the metric function the training loop reports."""
    predicted, truth = logits.argmax(-1).numpy(), labels.numpy()
    return {"accuracy": skm.accuracy_score(truth, predicted), "macro_f1": skm.f1_score(truth, predicted, average="macro")}


def regression_metrics(predictions: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Mean squared error, mean absolute error and R² of regression outputs."""
    predicted, truth = predictions.float().numpy(), targets.float().numpy()
    return {
        "mse": skm.mean_squared_error(truth, predicted),
        "mae": skm.mean_absolute_error(truth, predicted),
        "r2": skm.r2_score(truth, predicted),
    }


def classification_report_frame(truth: Sequence, predicted: Sequence, names: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, with macro and weighted averages, as a table."""
    labels = list(range(len(names))) if isinstance(truth[0], (int, np.integer)) else list(names)
    report = skm.classification_report(truth, predicted, labels=labels, target_names=list(names), output_dict=True,
                                       zero_division=0)
    return pd.DataFrame(report).T.drop(index="accuracy", errors="ignore")


def confusion_frame(truth: Sequence, predicted: Sequence, names: Sequence[str]) -> pd.DataFrame:
    """The confusion matrix with named rows (true class) and columns (predicted class)."""
    labels = list(range(len(names))) if isinstance(truth[0], (int, np.integer)) else list(names)
    matrix = skm.confusion_matrix(truth, predicted, labels=labels)
    return pd.DataFrame(matrix, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = 10) -> float:
    """How far confidence is from accuracy, averaged over confidence bins (0 = perfectly calibrated)."""
    confidence, predicted = probabilities.max(dim=-1)
    correct = (predicted == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.float().mean().item() * abs(confidence[inside].mean().item() - correct[inside].mean().item())
    return error


def exact_match(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Percentage (0-100) of outputs equal to their reference, surrounding spaces ignored."""
    return 100 * float(np.mean([h.strip() == r.strip() for h, r in zip(hypotheses, references)]))


TEXT_METRICS: dict[str, Callable[[list[str], list[str]], float]] = {  # name -> score(hypotheses, references), 0-100
    "bleu": lambda hypotheses, references: sacrebleu.corpus_bleu(hypotheses, [references]).score,
    "chrf": lambda hypotheses, references: sacrebleu.corpus_chrf(hypotheses, [references]).score,
    "exact_match": exact_match,
}


def generation_scores(task: Task, hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """The task's scores (`task.metrics`: corpus BLEU, chrF, exact match, 0-100) of outputs, one reference each."""
    return {name: TEXT_METRICS[name](hypotheses, references) for name in task.metrics}


CORPUS_METRICS = {"bleu": sacrebleu.BLEU, "chrf": sacrebleu.CHRF}


def sentence_statistics(hypotheses: Sequence[str], references: Sequence[str], metric: str = "chrf") -> np.ndarray:
    """Per sentence, the counts sacrebleu sums into a corpus BLEU or chrF (one row each), ready to resample."""
    return np.array(CORPUS_METRICS[metric]()._extract_corpus_statistics(list(hypotheses), [list(references)]))


def corpus_score(metric: str = "chrf") -> Callable[[Any, np.ndarray], float]:
    """score(_, statistics): the corpus BLEU or chrF of resampled sentence statistics (for `sft_helpers.stats`)."""
    scorer = CORPUS_METRICS[metric]()
    return lambda _, statistics: float(scorer._compute_score_from_stats(statistics.sum(axis=0).tolist()).score)


def translation_interval(hypotheses: Sequence[str], references: Sequence[str], metric: str = "chrf") -> Interval:
    """Corpus BLEU or chrF with a bootstrap interval over the sentences."""
    return bootstrap_interval(references, sentence_statistics(hypotheses, references, metric), corpus_score(metric))


def paired_translation_difference(hypotheses_a: Sequence[str], hypotheses_b: Sequence[str], references: Sequence[str],
                                  metric: str = "chrf") -> Interval:
    """Score(A) − score(B) of two systems on the same sentences, with a paired bootstrap interval."""
    a, b = (sentence_statistics(hypotheses, references, metric) for hypotheses in (hypotheses_a, hypotheses_b))
    return paired_interval(references, a, b, corpus_score(metric))


def unpaired_translation_difference(hypotheses_a: Sequence[str], references_a: Sequence[str],
                                    hypotheses_b: Sequence[str], references_b: Sequence[str],
                                    metric: str = "chrf") -> Interval:
    """Score on sentence set A − score on a different set B, each set resampled on its own."""
    return unpaired_interval(references_a, sentence_statistics(hypotheses_a, references_a, metric),
                             references_b, sentence_statistics(hypotheses_b, references_b, metric), corpus_score(metric))
