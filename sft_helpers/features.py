"""Features from pretrained networks: pooled sentence vectors, and cached activations of frozen layers.

Used in lessons: 00, 01, 02, 03, 04, 05, 06, 07, 08
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sft_helpers.evaluation import LossFn, MetricFn, eval_mode
from sft_helpers.models import freeze, mean_pool, transformer_blocks
from sft_helpers.progress import progress_bar
from sft_helpers.train import History, TrainConfig, train


def padding_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """The attention mask of right-padded sequences: 1 on each sequence's `length` real positions, 0 after."""
    return (torch.arange(width) < lengths.unsqueeze(1)).long()


@torch.no_grad()
def sentence_embeddings(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str], batch_size: int = 64
) -> torch.Tensor:
    """Mean-pooled, L2-normalised sentence vectors, one row per text (batched by length, padded per batch)."""
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    rows = torch.empty(len(texts), model.config.hidden_size)
    for start in range(0, len(texts), batch_size):
        chunk = order[start : start + batch_size]
        batch = tokenizer([texts[i] for i in chunk], padding=True, truncation=True, return_tensors="pt").to(device)
        hidden = model(**batch).last_hidden_state
        rows[chunk] = mean_pool(hidden, batch["attention_mask"]).float().cpu()
    return torch.nn.functional.normalize(rows, dim=-1)


def run_blocks(backbone: torch.nn.Module, blocks: list[torch.nn.Module], hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Run hidden states through some of a backbone's blocks, with the masks (and rotary positions) it would use."""
    from transformers.masking_utils import create_bidirectional_mask, create_causal_mask

    if not hasattr(backbone, "rotary_emb"):
        mask = create_bidirectional_mask(config=backbone.config, inputs_embeds=hidden, attention_mask=attention_mask)
        for block in blocks:
            hidden = block(hidden, attention_mask=mask)
        return hidden
    positions = torch.arange(hidden.shape[1], device=hidden.device).unsqueeze(0)
    mask = create_causal_mask(config=backbone.config, inputs_embeds=hidden, attention_mask=attention_mask,
                              cache=None, position_ids=positions)
    rotary = backbone.rotary_emb(hidden, position_ids=positions)
    for block in blocks:
        hidden = block(hidden, attention_mask=mask, position_embeddings=rotary, position_ids=positions)
    return hidden


class CachedTop(torch.nn.Module):
    """The trainable top of a classifier, fed with cached activations of its frozen lower blocks."""

    def __init__(self, classifier: torch.nn.Module, trainable_top_layers: int):
        super().__init__()
        blocks = transformer_blocks(classifier.backbone)
        self.classifier, self.top = classifier, list(blocks[len(blocks) - trainable_top_layers :])
        self.blocks = torch.nn.ModuleList(self.top)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
        """Logits from the hidden states entering the first trainable block."""
        backbone = self.classifier.backbone
        hidden = run_blocks(backbone, self.top, hidden, attention_mask)
        if hasattr(backbone, "norm"):
            hidden = backbone.norm(hidden)
        return self.classifier.predict_from_pooled(self.classifier.pool(hidden, attention_mask))


def cache_frozen_activations(
    classifier: torch.nn.Module, dataset: Sequence[dict], trainable_top_layers: int, batch_size: int = 64
) -> list[dict[str, torch.Tensor]]:
    """Per example, the hidden states entering the first trainable block (computed once, in eval mode, by length)."""
    blocks = transformer_blocks(classifier.backbone)
    return cache_hidden(classifier.backbone, list(blocks[: len(blocks) - trainable_top_layers]), dataset, batch_size)


def cache_hidden(backbone: torch.nn.Module, frozen: list[torch.nn.Module], dataset: Sequence[dict],
                 batch_size: int = 64) -> list[dict[str, torch.Tensor]]:
    """Per example, its hidden states after the `frozen` blocks, and its labels if it has any (batched by length)."""
    device = next(backbone.parameters()).device
    order = sorted(range(len(dataset)), key=lambda i: len(dataset[i]["input_ids"]))
    cached: list[dict[str, torch.Tensor]] = [{} for _ in order]
    with eval_mode(backbone):
        for start in progress_bar(iterable=range(0, len(order), batch_size), desc="caching frozen layers", leave=False):
            rows = [dataset[i] for i in order[start : start + batch_size]]
            ids = torch.nn.utils.rnn.pad_sequence([torch.as_tensor(r["input_ids"]) for r in rows], batch_first=True)
            lengths = torch.tensor([len(r["input_ids"]) for r in rows])
            mask = padding_mask(lengths, ids.shape[1])
            hidden = run_blocks(backbone, frozen, input_embeddings(backbone, ids.to(device)), mask.to(device))
            for index, row, states, length in zip(order[start : start + batch_size], rows, hidden.float().cpu(), lengths):
                labels = {"labels": torch.as_tensor(row["labels"])} if "labels" in row else {}
                cached[index] = {"hidden": states[:length].clone()} | labels
    return cached


def advance_cache(
    classifier: torch.nn.Module, cached: Sequence[dict], from_top_layers: int, to_top_layers: int, batch_size: int = 64
) -> list[dict[str, torch.Tensor]]:
    """The cache for `to_top_layers` trainable blocks, from the cache for more: runs only the frozen blocks in between."""
    backbone = classifier.backbone
    blocks = transformer_blocks(backbone)
    between = list(blocks[len(blocks) - from_top_layers : len(blocks) - to_top_layers])
    device = next(classifier.parameters()).device
    order = sorted(range(len(cached)), key=lambda i: len(cached[i]["hidden"]))
    advanced: list[dict[str, torch.Tensor]] = [{} for _ in order]
    with eval_mode(classifier):
        for start in range(0, len(order), batch_size):
            rows = [cached[i] for i in order[start : start + batch_size]]
            batch = collate_cached(rows)
            hidden = run_blocks(backbone, between, batch["hidden"].to(device), batch["attention_mask"].to(device))
            for index, row, states in zip(order[start : start + batch_size], rows, hidden.float().cpu()):
                advanced[index] = {"hidden": states[: len(row["hidden"])].clone(), "labels": row["labels"]}
    return advanced


def input_embeddings(backbone: torch.nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """What the first block receives: token (+ position and type) embeddings."""
    if hasattr(backbone, "embeddings"):
        return backbone.embeddings(input_ids=input_ids)
    return backbone.embed_tokens(input_ids)


def collate_cached(rows: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad cached hidden states to the batch's longest sequence, with the matching attention mask."""
    lengths = torch.tensor([len(r["hidden"]) for r in rows])
    hidden = torch.nn.utils.rnn.pad_sequence([r["hidden"] for r in rows], batch_first=True)
    mask = padding_mask(lengths, hidden.shape[1])
    return {"hidden": hidden, "attention_mask": mask, "labels": torch.stack([r["labels"] for r in rows])}


def feature_rows(vectors: torch.Tensor, labels: Sequence) -> list[dict[str, torch.Tensor]]:
    """A dataset of precomputed feature vectors and their labels, ready for the training loop."""
    targets = torch.as_tensor(list(labels))
    return [{"features": vector, "labels": target} for vector, target in zip(vectors, targets)]


@dataclass
class CachedRun:
    """A classifier trained on cached activations of its frozen layers, with what the caching cost."""

    history: History
    model: torch.nn.Module
    caches: dict[str, list[dict[str, torch.Tensor]]]
    cache_seconds: float


def train_top_layers(
    classifier: torch.nn.Module,
    tokens: dict[str, Any],
    trainable_top_layers: int,
    config: TrainConfig,
    loss_fn: LossFn,
    metric_fn: MetricFn | None = None,
    progress: bool = True,
) -> CachedRun:
    """Freeze all but the top layers, cache the frozen part's output once per split, and train the top on it."""
    freeze(classifier, trainable_top_layers)
    start = time.perf_counter()
    caches = {split: cache_frozen_activations(classifier, rows, trainable_top_layers) for split, rows in tokens.items()}
    cache_seconds = time.perf_counter() - start
    top = CachedTop(classifier, trainable_top_layers)
    history = train(top, caches["train"], config, loss_fn, caches.get("validation"), metric_fn, collate_cached,
                    progress=progress)
    return CachedRun(history, top, caches, cache_seconds)
