"""The cheap experiment lessons 03-08 repeat over seeds: a fresh head trained on precomputed sentence vectors.

Used in lessons: 02, 03, 04, 05, 06, 08
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold

from sft_helpers.evaluation import LossFn, MetricFn, predict
from sft_helpers.features import feature_rows
from sft_helpers.models import FeatureHead
from sft_helpers.runtime import seed_everything
from sft_helpers.train import History, TrainConfig, train


def train_feature_head(
    train_rows: list[dict[str, torch.Tensor]],
    val_rows: list[dict[str, torch.Tensor]] | None,
    config: TrainConfig,
    loss_fn: LossFn,
    metric_fn: MetricFn | None = None,
    num_outputs: int = 3,
    hidden: int | None = None,
    start_scale: float = 1.0,
    seed: int | None = None,
) -> tuple[FeatureHead, History]:
    """Train a fresh head (seeded; `seed` overrides config.seed) on sentence vectors; return it and its history.

    `start_scale` multiplies the initial output weights: 20 makes a confidently wrong start (lesson 03).
    """
    config = config if seed is None else replace(config, seed=seed)
    seed_everything(config.seed)
    head = FeatureHead(train_rows[0]["features"].shape[-1], num_outputs, hidden=hidden)
    with torch.no_grad():
        head.net[-1].weight.mul_(start_scale)
    history = train(head, train_rows, config, loss_fn, val_rows, metric_fn, progress=False)
    return head, history


def out_of_fold_guesses(vectors: torch.Tensor, reference: Sequence[int], training_labels: Sequence[int],
                        config: TrainConfig, loss_fn: LossFn, num_outputs: int, seeds: Sequence[int] = (0, 1, 2),
                        folds: int = 5) -> np.ndarray:
    """Class guesses (items × seeds) of heads trained on `training_labels` of the other folds, never on the item itself.

    Folds are stratified on `reference`, so heads trained on different label sources see the same items.
    """
    reference, training_labels = np.asarray(reference), np.asarray(training_labels)
    guesses = np.zeros((len(reference), len(seeds)), dtype=int)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train_items, held_out in splitter.split(np.zeros(len(reference)), reference):
        rows = feature_rows(vectors[train_items], training_labels[train_items].tolist())
        scored = feature_rows(vectors[held_out], reference[held_out].tolist())
        for column, seed in enumerate(seeds):
            head, _ = train_feature_head(rows, None, config, loss_fn, num_outputs=num_outputs, seed=seed)
            guesses[held_out, column] = predict(head, scored).argmax(-1).numpy()
    return guesses


def good_lr_range(learning_rates: Sequence[float], losses: Sequence[float], threshold: float,
                  points: int = 4001) -> float:
    """Decades of learning rate whose loss, interpolated linearly in log10(lr) between the grid's points, is at most
    `threshold`: a width that varies smoothly from seed to seed. Refuses a grid whose good range reaches an end of
    it, where the grid would cut the width short."""
    logs = np.log10(np.asarray(learning_rates, dtype=float))
    order = np.argsort(logs)
    logs, losses = logs[order], np.asarray(losses, dtype=float)[order]
    if min(losses[0], losses[-1]) <= threshold:
        raise ValueError(f"the good range reaches the end of the grid {list(10 ** logs)}: widen the grid")
    dense = np.linspace(logs[0], logs[-1], points)
    return float(np.mean(np.interp(dense, logs, losses) <= threshold) * (logs[-1] - logs[0]))
