"""Task models on top of pretrained networks, freezing, and parameter summaries.

Used in lessons: 00, 02, 05, 06, 07, 08, 10
"""
from __future__ import annotations

import pandas as pd
import torch


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters, counting shared tensors once."""
    unique = {id(p): p for p in model.parameters() if p.requires_grad or not trainable_only}
    return sum(p.numel() for p in unique.values())


def block_name(parameter_name: str) -> str:
    """The block a parameter belongs to: its name up to the layer number, else its first two parts."""
    parts = parameter_name.split(".")
    for index, part in enumerate(parts):
        if part.isdigit():
            return ".".join(parts[: index + 1])
    return ".".join(parts[:2])


def parameters_by_block(model: torch.nn.Module) -> pd.DataFrame:
    """A table of parameter counts per block (embeddings, each layer, head), in model order."""
    counts: dict[str, int] = {}
    for name, parameter in model.named_parameters():
        counts[block_name(name)] = counts.get(block_name(name), 0) + parameter.numel()
    table = pd.DataFrame({"block": list(counts), "parameters": list(counts.values())})
    table["share"] = (table["parameters"] / table["parameters"].sum()).round(3)
    return table


def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each sequence, ignoring padding."""
    mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class PretrainedClassifier(torch.nn.Module):
    """A pretrained transformer, a pooling of its token vectors, and a small task head on top."""

    def __init__(self, backbone: torch.nn.Module, num_outputs: int, pooling: str = "mean", dropout: float = 0.1):
        super().__init__()
        if pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be 'mean' (encoders) or 'last' (decoders), got {pooling!r}")
        self.backbone, self.pooling, self.num_outputs = backbone, pooling, num_outputs
        self.head = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(backbone.config.hidden_size, num_outputs))

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """One vector per sequence: the masked mean of its tokens, or its last non-padding token."""
        if self.pooling == "mean":
            return mean_pool(hidden, attention_mask)
        last = attention_mask.sum(1) - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]

    def predict_from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """The head's output: class logits, or one value per sequence for regression."""
        output = self.head(pooled)
        return output.squeeze(-1) if self.num_outputs == 1 else output

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
        """Logits (or regression values) for a batch of token ids."""
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.predict_from_pooled(self.pool(hidden, attention_mask))


def encoder_classifier(encoder: torch.nn.Module, num_outputs: int, dropout: float = 0.1) -> PretrainedClassifier:
    """An encoder (e.g. MiniLM) with mean pooling and a head: the usual sentence classifier or regressor."""
    return PretrainedClassifier(encoder, num_outputs, "mean", dropout)


def decoder_classifier(causal_lm: torch.nn.Module, num_outputs: int, dropout: float = 0.1) -> PretrainedClassifier:
    """A GPT-style classifier: the decoder's last non-padding token feeds the head (pad on the right)."""
    return PretrainedClassifier(causal_lm.model, num_outputs, "last", dropout)


def transformer_blocks(backbone: torch.nn.Module) -> torch.nn.ModuleList:
    """The stack of transformer blocks of an encoder (BERT family) or decoder (Llama family)."""
    blocks = getattr(getattr(backbone, "encoder", None), "layer", None) or getattr(backbone, "layers", None)
    if blocks is None:
        raise TypeError(f"cannot find the transformer blocks of {type(backbone).__name__}")
    return blocks


def freeze(model: PretrainedClassifier, trainable_top_layers: int | None) -> PretrainedClassifier:
    """Train only the head and the top `trainable_top_layers` blocks (0 = head only, None = everything)."""
    blocks = transformer_blocks(model.backbone)
    if trainable_top_layers is not None and not 0 <= trainable_top_layers <= len(blocks):
        raise ValueError(f"trainable_top_layers must be between 0 and {len(blocks)} or None, got {trainable_top_layers}")
    everything = trainable_top_layers is None
    for parameter in model.backbone.parameters():
        parameter.requires_grad = everything
    for block in blocks[len(blocks) - (trainable_top_layers or 0) :] if not everything else []:
        block.requires_grad_(True)
    if not everything and hasattr(model.backbone, "norm"):
        model.backbone.norm.requires_grad_(trainable_top_layers > 0)
    model.head.requires_grad_(True)
    return model


def trainable_summary(model: torch.nn.Module) -> dict[str, float]:
    """Trainable and frozen parameter counts, and the trainable share."""
    total, trainable = count_parameters(model), count_parameters(model, trainable_only=True)
    return {"trainable": trainable, "frozen": total - trainable, "trainable share": round(trainable / total, 4)}


class FeatureHead(torch.nn.Module):
    """A head trained on precomputed sentence vectors: linear, or with one hidden layer."""

    def __init__(self, in_features: int, num_outputs: int, hidden: int | None = None, dropout: float = 0.0):
        super().__init__()
        layers = [torch.nn.Linear(in_features, hidden), torch.nn.ReLU()] if hidden else []
        width = hidden or in_features
        self.net = torch.nn.Sequential(*layers, torch.nn.Dropout(dropout), torch.nn.Linear(width, num_outputs))
        self.num_outputs = num_outputs

    def forward(self, features: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
        """Class logits, or one value per example for regression."""
        output = self.net(features)
        return output.squeeze(-1) if self.num_outputs == 1 else output
