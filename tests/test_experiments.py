"""A fresh head on sentence vectors: seeded, repeatable, and different across seeds."""
import torch
import torch.nn.functional as F

import numpy as np

import pytest

from sft_helpers.experiments import good_lr_range, out_of_fold_guesses, train_feature_head
from sft_helpers.features import feature_rows
from sft_helpers.metrics import classification_metrics
from sft_helpers.train import TrainConfig


def separable_rows(size: int = 60) -> list[dict[str, torch.Tensor]]:
    """Vectors whose first coordinate tells the class."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(size) % 2
    vectors = torch.randn(size, 8, generator=generator) + labels[:, None] * torch.eye(8)[0] * 8
    return feature_rows(vectors, labels.tolist())


def test_same_seed_same_head_other_seed_other_head():
    rows, config = separable_rows(), TrainConfig(lr=5e-2, epochs=10, batch_size=8)
    first, _ = train_feature_head(rows, rows, config, F.cross_entropy, classification_metrics, num_outputs=2, seed=1)
    again, history = train_feature_head(rows, rows, config, F.cross_entropy, classification_metrics, num_outputs=2, seed=1)
    other, _ = train_feature_head(rows, rows, config, F.cross_entropy, classification_metrics, num_outputs=2, seed=2)
    assert torch.equal(first.net[-1].weight, again.net[-1].weight)
    assert not torch.equal(first.net[-1].weight, other.net[-1].weight)
    assert history.epochs[-1]["val_accuracy"] > 0.9


def test_start_scale_multiplies_the_initial_output_weights():
    rows, config = separable_rows(), TrainConfig(lr=1e-9, epochs=1, optimizer="sgd")  # steps too small to matter
    plain, _ = train_feature_head(rows, None, config, F.cross_entropy, num_outputs=2, seed=0)
    scaled, _ = train_feature_head(rows, None, config, F.cross_entropy, num_outputs=2, start_scale=20.0, seed=0)
    assert torch.allclose(scaled.net[-1].weight, 20 * plain.net[-1].weight, atol=1e-6)


def test_out_of_fold_guesses_learn_from_the_given_labels_only():
    rows = separable_rows(80)
    vectors, reference = torch.stack([r["features"] for r in rows]), [int(r["labels"]) for r in rows]
    config = TrainConfig(lr=5e-2, epochs=10, batch_size=8)
    right = out_of_fold_guesses(vectors, reference, reference, config, F.cross_entropy, num_outputs=2, seeds=(0, 1))
    flipped = out_of_fold_guesses(vectors, reference, [1 - label for label in reference], config, F.cross_entropy,
                                  num_outputs=2, seeds=(0, 1))
    assert right.shape == (80, 2)
    assert (right == np.array(reference)[:, None]).mean() > 0.9
    assert (flipped == np.array(reference)[:, None]).mean() < 0.1


def test_good_lr_range_interpolates_between_grid_points():
    grid = [1e-3, 1e-2, 1e-1, 1.0]
    assert good_lr_range(grid, [2.0, 0.0, 0.0, 2.0], threshold=1.0) == pytest.approx(2.0, abs=0.01)
    assert good_lr_range(grid, [2.0, 0.0, 1.0, 2.0], threshold=1.0) == pytest.approx(1.5, abs=0.01)
    # a loss above the threshold at 1e-1 still leaves the part of its decade nearer the good point
    assert good_lr_range(grid, [2.0, 0.0, 1.5, 2.0], threshold=1.0) == pytest.approx(0.5 + 2 / 3, abs=0.01)


def test_good_lr_range_refuses_a_range_the_grid_cuts_short():
    with pytest.raises(ValueError, match="widen the grid"):
        good_lr_range([1e-3, 1e-2, 1e-1], [0.5, 0.4, 2.0], threshold=1.0)
