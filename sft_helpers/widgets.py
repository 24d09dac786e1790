"""The hyperparameter panel: a pure `run_trial(config)` and a thin ipywidgets layer over it.

Used in lessons: 05, 08
"""
from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F

from sft_helpers.features import CachedTop, cache_frozen_activations, collate_cached
from sft_helpers.metrics import classification_metrics
from sft_helpers.models import freeze
from sft_helpers.plots import plot_train_validation
from sft_helpers.recipes import PANEL, PANEL_TOP_LAYERS
from sft_helpers.runtime import seed_everything
from sft_helpers.train import OPTIMIZERS, History, TrainConfig, train

MAX_SECONDS = 120.0
# The learning rates the panel offers: a log grid, two steps a decade. A slider over these values shows and
# returns exactly the value chosen (a FloatLogSlider would show 10^-2.5 = 0.003162 for 3e-3, and write it back).
LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
# Controls share one label width, wide enough for "learning rate" and "weight decay" in JupyterLab and the book.
LABEL_STYLE = {"description_width": "7.5em"}
CONTROL_WIDTH = "21em"


@dataclass
class TrialConfig:
    """The knobs a learner turns in the panel; they start at `recipes.PANEL`."""

    lr: float = PANEL.lr
    batch_size: int = PANEL.batch_size
    epochs: int = PANEL.epochs
    optimizer: str = PANEL.optimizer
    trainable_top_layers: int = PANEL_TOP_LAYERS
    weight_decay: float = PANEL.weight_decay


@dataclass
class TrialContext:
    """What every trial shares: a classifier factory, tokenised splits, and activations cached per depth."""

    make_classifier: Callable[[], torch.nn.Module]
    tokens: dict[str, Any]
    seconds_per_epoch: dict[int, float] = field(default_factory=dict)
    caches: dict[int, dict[str, list]] = field(default_factory=dict)

    def cached(self, depth: int, classifier: torch.nn.Module) -> dict[str, list]:
        """Activations entering the top `depth` layers, computed on first use."""
        if depth not in self.caches:
            self.caches[depth] = {s: cache_frozen_activations(classifier, rows, depth) for s, rows in self.tokens.items()}
        return self.caches[depth]


@dataclass
class TrialResult:
    """One finished trial: its configuration, history, best validation accuracy and duration."""

    config: TrialConfig
    history: History
    val_accuracy: float
    seconds: float

    def row(self) -> dict[str, Any]:
        """The trial as a row of the results table."""
        return {**asdict(self.config), "val accuracy": round(self.val_accuracy, 3), "seconds": round(self.seconds, 1)}


def problems(config: TrialConfig, context: TrialContext, max_layers: int = 2) -> list[str]:
    """Why a configuration cannot run (an empty list when it can)."""
    found = []
    if config.optimizer not in OPTIMIZERS:
        found.append(f"unknown optimiser {config.optimizer!r}")
    if config.lr <= 0 or config.epochs < 1 or config.batch_size < 1:
        found.append("learning rate, epochs and batch size must be positive")
    if config.batch_size > len(context.tokens["train"]):
        found.append(f"batch size {config.batch_size} is larger than the training set ({len(context.tokens['train'])})")
    if not 0 <= config.trainable_top_layers <= max_layers:
        found.append(f"the panel trains 0 to {max_layers} top layers")
    if config.optimizer in ("sgd", "sgd_momentum") and config.weight_decay > 0.01:
        found.append("weight decay above 0.01 with SGD shrinks the weights faster than they learn; use adamw")
    if estimated_seconds(config, context) > MAX_SECONDS:
        found.append(f"this would take about {estimated_seconds(config, context):.0f} s; use fewer epochs or layers")
    return found


def estimated_seconds(config: TrialConfig, context: TrialContext) -> float:
    """Expected training time from the measured seconds per epoch at this depth (unknown depths: 0)."""
    return config.epochs * context.seconds_per_epoch.get(config.trainable_top_layers, 0.0)


def run_trial(config: TrialConfig, context: TrialContext, on_epoch: Callable[[History], None] | None = None) -> TrialResult:
    """Train a fresh classifier top (seeded) on cached activations with `config`; measure it on validation."""
    start = time.perf_counter()
    seed_everything(0)
    classifier = freeze(context.make_classifier(), config.trainable_top_layers)
    caches = context.cached(config.trainable_top_layers, classifier)
    settings = TrainConfig(optimizer=config.optimizer, lr=config.lr, batch_size=config.batch_size, epochs=config.epochs,
                           weight_decay=config.weight_decay, group_by_length=True)
    history = train(CachedTop(classifier, config.trainable_top_layers), caches["train"], settings, F.cross_entropy,
                    caches["validation"], classification_metrics, collate_cached, progress=False, on_epoch=on_epoch)
    context.seconds_per_epoch[config.trainable_top_layers] = history.seconds_per_epoch()
    best = max(epoch["val_accuracy"] for epoch in history.epochs)
    return TrialResult(config, history, best, time.perf_counter() - start)


def figure_png(history: History) -> bytes:
    """Loss and accuracy curves of a history, as PNG bytes for an Image widget."""
    with matplotlib.rc_context({"figure.max_open_warning": 0}):
        figure, axes = plt.subplots(1, 2, figsize=(9, 3))
        frame = history.epochs_frame()
        plot_train_validation(frame, "loss", ax=axes[0])
        axes[1].plot(frame["epoch"], frame["val_accuracy"], marker="o", markersize=3)
        axes[1].set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        plt.close(figure)
    return buffer.getvalue()


def lr_label(lr: float) -> str:
    """A learning rate as the panel writes it: 3e-3, 1e-4, 1."""
    mantissa, exponent = f"{lr:.0e}".split("e")
    return mantissa if int(exponent) == 0 else f"{mantissa}e{int(exponent)}"


def lr_options(configured: float) -> list[tuple[str, float]]:
    """The learning-rate grid as (label, value) pairs, with the configured value added if it is not on it."""
    values = sorted(set(LEARNING_RATES) | {configured})
    return [(lr_label(v) if v in LEARNING_RATES else f"{v:g}", v) for v in values]


def control(kind: type, description: str, **kwargs: Any) -> widgets.Widget:
    """A control with the panel's label width, so no label is cut short."""
    return kind(description=description, style=LABEL_STYLE, layout=widgets.Layout(width=CONTROL_WIDTH), **kwargs)


class HyperparameterPanel:
    """Sliders and menus for a trial, a Train button, live curves, and a table of every run so far."""

    def __init__(self, context: TrialContext, defaults: TrialConfig | None = None):
        defaults = defaults or TrialConfig()
        self.context, self.results = context, pd.DataFrame()
        self.lr = control(widgets.SelectionSlider, "learning rate", options=lr_options(defaults.lr), value=defaults.lr)
        self.batch_size = control(widgets.Dropdown, "batch size", options=[8, 16, 32, 64, 128, 256], value=defaults.batch_size)
        self.epochs = control(widgets.IntSlider, "epochs", value=defaults.epochs, min=1, max=60)
        self.optimizer = control(widgets.Dropdown, "optimiser", options=list(OPTIMIZERS), value=defaults.optimizer)
        self.layers = control(widgets.IntSlider, "top layers", value=defaults.trainable_top_layers, min=0, max=2)
        self.weight_decay = control(widgets.Dropdown, "weight decay", options=[0.0, 0.001, 0.01, 0.1, 1.0],
                                    value=defaults.weight_decay)
        self.button = widgets.Button(description="Train", button_style="primary",
                                     layout=widgets.Layout(width="8em", margin="0.5em 0 0.5em 7.5em"))
        self.status = widgets.HTML(layout=widgets.Layout(width=CONTROL_WIDTH))
        # The curves take the room left beside the settings and wrap below them in a narrow column.
        self.plot = widgets.Image(format="png", layout=widgets.Layout(flex="1 1 22em", min_width="0", max_width="720px"))
        self.table = widgets.HTML(layout=widgets.Layout(max_width="100%", overflow="auto"))
        self.button.on_click(lambda _: self.train())
        for setting in self.controls():
            setting.observe(lambda _: self.describe(), names="value")
        self.describe()

    def controls(self) -> list[widgets.Widget]:
        """The widgets that set the configuration."""
        return [self.lr, self.batch_size, self.epochs, self.optimizer, self.layers, self.weight_decay]

    def config(self) -> TrialConfig:
        """The configuration the widgets show now."""
        return TrialConfig(self.lr.value, self.batch_size.value, self.epochs.value, self.optimizer.value,
                           self.layers.value, self.weight_decay.value)

    def describe(self) -> None:
        """Say what pressing Train would do: the refusal reasons, or the expected duration."""
        found = problems(self.config(), self.context)
        seconds = estimated_seconds(self.config(), self.context)
        timing = f"about {seconds:.0f} s" if seconds else "time not measured yet at this depth"
        self.status.value = "<b>Cannot train:</b> " + "; ".join(found) if found else f"Ready: {timing}."
        self.button.disabled = bool(found)

    def train(self) -> TrialResult | None:
        """Run the trial the widgets describe, refreshing the curves each epoch, and add it to the table."""
        if problems(self.config(), self.context):
            self.describe()
            return None
        self.status.value = "Training…"
        result = run_trial(self.config(), self.context, on_epoch=lambda h: setattr(self.plot, "value", figure_png(h)))
        self.results = pd.concat([self.results, pd.DataFrame([result.row()])], ignore_index=True)
        self.table.value = self.results.to_html(index=False)
        self.status.value = f"Done: best validation accuracy {result.val_accuracy:.3f} in {result.seconds:.1f} s."
        return result

    def widget(self) -> widgets.Widget:
        """The whole panel, ready to display."""
        settings = widgets.VBox(self.controls() + [self.button, self.status],
                                layout=widgets.Layout(flex="0 0 auto", width=CONTROL_WIDTH, margin="0 1em 1em 0"))
        top = widgets.HBox([settings, self.plot], layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))
        return widgets.VBox([top, self.table], layout=widgets.Layout(max_width="100%"))


def review_box(classify: Callable[[list[str]], list[dict]], rate: Callable[[list[str]], list[float]],
               example: str = "") -> tuple[widgets.Widget, Callable[[], str]]:
    """A text box and button that show a review's predicted sentiment, class probabilities and stars."""
    text = widgets.Textarea(value=example, description="review", layout=widgets.Layout(width="90%"))
    button, answer = widgets.Button(description="Predict", button_style="primary"), widgets.HTML()

    def show() -> str:
        prediction, stars = classify([text.value])[0], rate([text.value])[0]
        shares = ", ".join(f"{label} {p:.0%}" for label, p in prediction["probabilities"].items())
        answer.value = f"<b>{prediction['label']}</b> ({shares}); about <b>{stars:.1f}</b> stars"
        return answer.value

    button.on_click(lambda _: show())
    if example:
        show()
    return widgets.VBox([text, button, answer]), show
