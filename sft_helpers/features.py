"""Sentence features from a pretrained encoder: attention-masked mean pooling."""
from __future__ import annotations

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase


def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each sequence, ignoring padding."""
    mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


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
