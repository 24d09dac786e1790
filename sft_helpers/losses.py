"""Loss functions for classification and regression, written out so that lessons can compare them.

Used in lessons: 03
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import torch
import torch.nn.functional as F


def stable_log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """log(softmax(z)) computed as z - max(z) - log(sum(exp(z - max(z)))), which never overflows."""
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log()


def naive_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy straight from the textbook formula, -log(exp(z_y) / sum(exp(z))): overflows for large logits."""
    probabilities = logits.exp() / logits.exp().sum(dim=-1, keepdim=True)
    return -probabilities.gather(-1, labels.unsqueeze(-1)).log().mean()


def cross_entropy_by_hand(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy, -log p(true class), through the numerically stable log-softmax."""
    return -stable_log_softmax(logits).gather(-1, labels.unsqueeze(-1)).mean()


def mse_on_one_hot(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the softmax probabilities and one-hot targets (a poor classification loss)."""
    targets = F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    return F.mse_loss(logits.softmax(dim=-1), targets)


def inverse_frequency_weights(labels: Sequence[int], num_classes: int) -> torch.Tensor:
    """Class weights proportional to 1 / class frequency, scaled so that they average to 1 over examples."""
    counts = Counter(int(label) for label in labels)
    weights = torch.tensor([len(labels) / (num_classes * counts[c]) if counts[c] else 0.0 for c in range(num_classes)])
    return weights


def regression_loss(name: str) -> torch.nn.Module:
    """A regression loss by name: 'mse', 'mae' (L1) or 'huber'."""
    losses = {"mse": torch.nn.MSELoss(), "mae": torch.nn.L1Loss(), "huber": torch.nn.HuberLoss(delta=1.0)}
    if name not in losses:
        raise ValueError(f"unknown regression loss {name!r}; choose one of {sorted(losses)}")
    return losses[name]
