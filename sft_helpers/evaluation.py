"""Evaluation and prediction: a model's mean loss and metrics on a data set, or its outputs, without gradients.

Used in lessons: 02, 03, 04, 05, 06, 07, 08
"""
from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader

from sft_helpers.batching import Collate, batches_on
from sft_helpers.runtime import autocast

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MetricFn = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]
EVAL_BATCH_SIZE = 64


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    return next(model.parameters(), torch.empty(0)).device


def forward(model: torch.nn.Module, inputs: dict[str, Any]) -> torch.Tensor:
    """Call the model on a batch's inputs; return its output tensor (its `.logits` when it returns an object)."""
    outputs = model(**inputs)
    return getattr(outputs, "logits", outputs)


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Evaluation mode without gradients; restores the model's previous mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def evaluate(
    model: torch.nn.Module,
    dataset: Any,
    loss_fn: LossFn,
    metric_fn: MetricFn | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
    collate_fn: Collate | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Mean loss over examples, `metric_fn` on all outputs, examples per second (default device: the model's)."""
    device = torch.device(device) if device else model_device(model)
    total, count, kept, start = 0.0, 0, [], time.perf_counter()
    with eval_mode(model.to(device)):
        for inputs, labels in batches_on(DataLoader(dataset, batch_size=batch_size, collate_fn=collate_fn), device):
            with autocast(device):
                outputs = forward(model, inputs)
                loss = loss_fn(outputs, labels)
            total, count = total + loss.item() * len(labels), count + len(labels)
            if metric_fn is not None:
                kept.append((outputs.float().cpu(), labels.cpu()))
    metrics = metric_fn(*map(torch.cat, zip(*kept))) if metric_fn is not None else {}
    return {"loss": total / count, **metrics, "examples_per_second": count / (time.perf_counter() - start)}


def predict(
    model: torch.nn.Module,
    dataset: Any,
    batch_size: int = EVAL_BATCH_SIZE,
    collate_fn: Collate | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The model's outputs for the whole dataset, concatenated, as float32 on the CPU."""
    device = torch.device(device) if device else model_device(model)
    outputs = []
    with eval_mode(model.to(device)), autocast(device):
        for inputs, _ in batches_on(DataLoader(dataset, batch_size=batch_size, collate_fn=collate_fn), device):
            outputs.append(forward(model, inputs).float().cpu())
    return torch.cat(outputs)
