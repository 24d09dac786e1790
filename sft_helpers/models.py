"""Task models on top of pretrained networks, freezing, and parameter summaries."""
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
