"""Classification and regression reports on top of scikit-learn."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn import metrics as skm


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
