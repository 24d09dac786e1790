"""The cheap experiment lessons 03-06 repeat over seeds: a fresh head trained on precomputed sentence vectors."""
from __future__ import annotations

from dataclasses import replace

import torch

from sft_helpers.models import FeatureHead
from sft_helpers.runtime import seed_everything
from sft_helpers.train import History, LossFn, MetricFn, TrainConfig, train


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
