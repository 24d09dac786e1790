"""Pictures the lessons share: learning curves, comparisons, confusion matrices (matplotlib + seaborn).

Used in lessons: 02, 03, 04, 05, 06, 07, 08, 09
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def plot_curves(
    curves: dict[str, pd.DataFrame], y: str, x: str = "epoch", ax: plt.Axes | None = None, title: str | None = None,
    log_y: bool = False,
) -> plt.Axes:
    """One line per named run: column `y` against column `x` of each run's history table."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    for name, frame in curves.items():
        rows = frame.dropna(subset=[y])
        ax.plot(rows[x], rows[y], marker="o" if len(rows) < 30 else None, markersize=3, label=name)
    ax.set(xlabel=x, ylabel=y, title=title or f"{y} by {x}", yscale="log" if log_y else "linear")
    ax.legend(fontsize=8)
    return ax


def plot_train_validation(history: pd.DataFrame, metric: str = "loss", ax: plt.Axes | None = None,
                          title: str | None = None) -> plt.Axes:
    """Training and validation curves of one run, per epoch, to see under- and over-fitting."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    for column, label in ((f"train_{metric}", "train"), (f"val_{metric}", "validation")):
        if column in history:
            ax.plot(history["epoch"], history[column], marker="o", markersize=3, label=label)
    ax.set(xlabel="epoch", ylabel=metric, title=title or f"{metric}: train vs validation")
    ax.legend(fontsize=8)
    return ax


def plot_confusion(matrix: pd.DataFrame, ax: plt.Axes | None = None, title: str = "confusion matrix") -> plt.Axes:
    """A heatmap of a confusion matrix (rows: true class, columns: predicted class), with counts."""
    ax = ax or plt.subplots(figsize=(4.5, 3.8))[1]
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
    ax.set(title=title)
    return ax


def save_confusion(matrix: pd.DataFrame, title: str, path: Path) -> None:
    """Draw a confusion matrix and save it as a PNG (the CLI's `evaluate`)."""
    figure = plot_confusion(matrix, title=title).get_figure()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def plot_bars(values: pd.Series, ax: plt.Axes | None = None, title: str = "", xlabel: str = "",
              log_x: bool = False) -> plt.Axes:
    """Horizontal bars of named values, labelled with the values."""
    ax = ax or plt.subplots(figsize=(6, 0.45 * len(values) + 1))[1]
    bars = ax.barh(values.index.astype(str), values.to_numpy(), color=sns.color_palette("deep", len(values)))
    ax.bar_label(bars, fmt="%.3g", fontsize=8, padding=2)
    ax.invert_yaxis()
    ax.set(title=title, xlabel=xlabel, xscale="log" if log_x else "linear")
    return ax
