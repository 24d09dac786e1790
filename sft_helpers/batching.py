"""Batches for the training loop and for evaluation: shuffled or grouped by length, moved to the model's device.

Used in lessons: none (the training loop and `evaluation` use it)
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader

Collate = Callable[[list[Any]], dict[str, torch.Tensor]]


def batches_on(loader: DataLoader, device: torch.device) -> Iterator[tuple[dict[str, Any], torch.Tensor | None]]:
    """Yield (inputs, labels) of each batch, moved to `device`; labels are None when the batch has none."""
    for batch in loader:
        moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        yield moved, moved.pop("labels", None)


class LengthGroupedBatches(torch.utils.data.Sampler):
    """Random batches of similar-length sequences, so that padding per batch wastes little (new draw each epoch)."""

    def __init__(self, lengths: list[int], batch_size: int, generator: torch.Generator, pool_batches: int = 50):
        self.lengths, self.batch_size, self.generator, self.pool = lengths, batch_size, generator, pool_batches * batch_size

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        pools = [sorted(order[i : i + self.pool], key=self.lengths.__getitem__) for i in range(0, len(order), self.pool)]
        batches = [pool[i : i + self.batch_size] for pool in pools for i in range(0, len(pool), self.batch_size)]
        yield from (batches[i] for i in torch.randperm(len(batches), generator=self.generator).tolist())

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)


def sequence_lengths(dataset: Any) -> list[int]:
    """Length of each example's token sequence (its `input_ids`, or cached `hidden` states)."""
    return [len(row["input_ids"] if "input_ids" in row else row["hidden"]) for row in dataset]


def train_loader(train_data: Any, batch_size: int, seed: int, shuffle: bool = True, group_by_length: bool = False,
                 collate_fn: Collate | None = None) -> DataLoader:
    """Batches of the training data, shuffled by a generator seeded from `seed` (grouped by length if asked)."""
    generator = torch.Generator().manual_seed(seed)
    if group_by_length:
        sampler = LengthGroupedBatches(sequence_lengths(train_data), batch_size, generator)
        return DataLoader(train_data, batch_sampler=sampler, collate_fn=collate_fn)
    return DataLoader(train_data, batch_size, shuffle=shuffle, collate_fn=collate_fn, generator=generator)
