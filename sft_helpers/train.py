"""One training loop for the lessons and `sft-course` alike: its configuration, optimisers and schedules, and
`train()`, which reads top to bottom as the plain loop of lesson 02 grown up (Accelerate for devices, several
processes and mixed precision; validation, early stopping and a history).

Used in lessons: 02, 03, 04, 05, 06, 07, 08, 09
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pandas as pd
import torch
from accelerate import Accelerator

from sft_helpers.batching import Collate, batches_on, train_loader
from sft_helpers.evaluation import EVAL_BATCH_SIZE, LossFn, MetricFn, evaluate, forward
from sft_helpers.progress import progress_bar
from sft_helpers.runtime import choose_device, mixed_precision, seed_everything

SCHEDULERS = (None, "linear", "cosine")
LOWER_IS_BETTER = frozenset({"loss", "mse", "rmse", "mae", "perplexity"})


@dataclass
class TrainConfig:
    """Every knob of a training run; the defaults are a sensible starting point."""

    optimizer: str = "adamw"  # a name in OPTIMIZERS
    lr: float = 1e-3  # the base learning rate (the peak, with warm-up and a schedule)
    batch_size: int = 32  # examples per step (per process, with several processes)
    epochs: int = 5  # passes over the training data (fewer with early stopping)
    weight_decay: float = 0.0  # L2 penalty (decoupled from the gradient in AdamW)
    momentum: float = 0.9  # SGD with momentum only
    scheduler: str | None = None  # after warm-up: None (constant), "linear" or "cosine" decay to 0
    warmup_steps: int = 0  # steps of linear warm-up from 0 to lr
    max_grad_norm: float | None = None  # clip the gradient to this norm; None: no clipping
    patience: int | None = None  # stop after this many epochs without a better validation value; None: never
    monitor: str = "loss"  # the validation value that early stopping and the best epoch follow
    eval_every: int | None = None  # also validate every this many steps; None: once per epoch only
    seed: int = 0  # seeds shuffling, dropout and anything else random in the run
    shuffle: bool = True  # draw batches in a new random order each epoch
    group_by_length: bool = False  # batch similar lengths together, so that padding per batch wastes little


OptimizerFactory = Callable[[list[torch.nn.Parameter], TrainConfig], torch.optim.Optimizer]
OPTIMIZERS: dict[str, OptimizerFactory] = {
    "sgd": lambda p, c: torch.optim.SGD(p, c.lr, momentum=0.0, weight_decay=c.weight_decay),
    "sgd_momentum": lambda p, c: torch.optim.SGD(p, c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "adam": lambda p, c: torch.optim.Adam(p, c.lr, weight_decay=c.weight_decay),
    "adamw": lambda p, c: torch.optim.AdamW(p, c.lr, weight_decay=c.weight_decay),
}


@dataclass
class History:
    """What happened during training: one record per step and per epoch."""

    steps: list[dict] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int | None = None

    def steps_frame(self) -> pd.DataFrame:
        """The step records as a table."""
        return pd.DataFrame(self.steps)

    def epochs_frame(self) -> pd.DataFrame:
        """The epoch records as a table."""
        return pd.DataFrame(self.epochs)

    def seconds_per_epoch(self) -> float:
        """Mean training time of an epoch, validation excluded (NaN before any epoch)."""
        return sum(e["seconds"] for e in self.epochs) / len(self.epochs) if self.epochs else math.nan


def unknown(what: str, value: Any, known: Iterable[Any]) -> str:
    """The error message for a value that is not one of the known choices."""
    return f"unknown {what} {value!r}; choose one of: {', '.join(map(repr, known))}"


def check_config(config: TrainConfig, model: torch.nn.Module) -> None:
    """Raise ValueError at once, with a clear message, for a configuration that cannot train `model`."""
    problems = [
        (config.optimizer not in OPTIMIZERS, unknown("optimizer", config.optimizer, OPTIMIZERS)),
        (config.lr <= 0, f"lr must be > 0, got {config.lr}"),
        (config.batch_size < 1, f"batch_size must be >= 1, got {config.batch_size}"),
        (config.epochs < 1, f"epochs must be >= 1, got {config.epochs}"),
        (config.scheduler not in SCHEDULERS, unknown("scheduler", config.scheduler, SCHEDULERS)),
        (config.warmup_steps < 0, f"warmup_steps must be >= 0, got {config.warmup_steps}"),
        (config.weight_decay < 0, f"weight_decay must be >= 0, got {config.weight_decay}"),
        (not 0 <= config.momentum < 1, f"momentum must be >= 0 and < 1, got {config.momentum}"),
        (config.max_grad_norm is not None and config.max_grad_norm <= 0,
         f"max_grad_norm must be > 0 or None, got {config.max_grad_norm}"),
        (config.patience is not None and config.patience < 1, f"patience must be >= 1 or None, got {config.patience}"),
        (config.eval_every is not None and config.eval_every < 1,
         f"eval_every must be >= 1 or None, got {config.eval_every}"),
        (not any(p.requires_grad for p in model.parameters()), "no trainable parameters: everything is frozen"),
    ]
    for failed, message in problems:
        if failed:
            raise ValueError(message)


def check_validation(config: TrainConfig, val_data: Any, metric_fn: MetricFn | None) -> None:
    """Raise ValueError when early stopping, step-level validation or the monitored metric lacks what it needs."""
    if config.patience is not None and val_data is None:
        raise ValueError("patience (early stopping) needs val_data")
    if config.eval_every is not None and val_data is None:
        raise ValueError("eval_every (step-level validation) needs val_data")
    if config.monitor != "loss" and metric_fn is None:
        raise ValueError(f"monitor {config.monitor!r} needs a metric_fn that returns it")


def make_optimizer(config: TrainConfig, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The optimiser named by `config`, over the trainable parameters only."""
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(unknown("optimizer", config.optimizer, OPTIMIZERS))
    return OPTIMIZERS[config.optimizer]([p for p in parameters if p.requires_grad], config)


def lr_factor(step: int, warmup_steps: int, total_steps: int, kind: str | None) -> float:
    """Multiplier of the base lr at `step`: linear warm-up, then constant, linear or cosine decay to 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    if kind == "linear":
        return 1.0 - progress
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0


def make_scheduler(
    config: TrainConfig, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step schedule: `warmup_steps` of linear warm-up, then `config.scheduler` over the remaining steps."""
    if config.scheduler not in SCHEDULERS:
        raise ValueError(unknown("scheduler", config.scheduler, SCHEDULERS))
    schedule = functools.partial(
        lr_factor, warmup_steps=config.warmup_steps, total_steps=total_steps, kind=config.scheduler
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def make_accelerator(device: torch.device) -> Accelerator:
    """One process on `device`, in mixed precision on CUDA (see `runtime.mixed_precision`)."""
    return Accelerator(cpu=device.type == "cpu", mixed_precision=mixed_precision(device))


def monitored_score(record: dict[str, float], monitor: str) -> float:
    """The monitored validation value, signed so that lower is better."""
    key = f"val_{monitor}"
    if key not in record:
        raise ValueError(f"monitor {monitor!r} is not among the validation results {sorted(record)}")
    return record[key] if monitor in LOWER_IS_BETTER else -record[key]


def validation_record(result: dict[str, float]) -> dict[str, float]:
    """Validation results as `val_*` history entries (without the timing, so that histories repeat)."""
    return {f"val_{k}": v for k, v in result.items() if k != "examples_per_second"}


def train(
    model: torch.nn.Module,
    train_data: Any,
    config: TrainConfig,
    loss_fn: LossFn,
    val_data: Any = None,
    metric_fn: MetricFn | None = None,
    collate_fn: Collate | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    on_epoch: Callable[[History], None] | None = None,
    accelerator: Accelerator | None = None,
) -> History:
    """Train `model` by `config` (validating on `val_data` if given); `on_epoch(history)` runs after each epoch."""
    # Refuse a configuration that cannot work before spending any time on it.
    check_config(config, model)
    check_validation(config, val_data, metric_fn)
    # The same seed gives the same batches, dropout and fresh weights: a run repeats.
    seed_everything(config.seed)
    # Accelerate owns device placement, DDP across processes, backward and mixed precision. Without one given,
    # one process on `device` (default: the best device here).
    accelerator = accelerator or make_accelerator(choose_device(str(device) if device else None))
    loader = train_loader(train_data, config.batch_size, config.seed, config.shuffle, config.group_by_length, collate_fn)
    net, optimizer, loader = accelerator.prepare(model, make_optimizer(config, model.parameters()), loader)
    # The schedule counts this process's steps, i.e. its share of the batches.
    scheduler = make_scheduler(config, optimizer, config.epochs * len(loader))
    history, step, best_score, best_state = History(), 0, math.inf, None

    def validate() -> dict[str, float]:
        """Every process validates the plain model on all of `val_data`, so all take the same decisions."""
        batch_size = max(config.batch_size, EVAL_BATCH_SIZE)
        return validation_record(evaluate(model, val_data, loss_fn, metric_fn, batch_size, collate_fn, accelerator.device))

    show = progress and accelerator.is_main_process
    with progress_bar(total=config.epochs * len(loader), desc="training", unit="step", disable=not show) as bar:
        for epoch in range(1, config.epochs + 1):
            net.train()  # dropout on (validation switches it off and back)
            total, count, seconds, tick = 0.0, 0, 0.0, time.perf_counter()
            for inputs, labels in batches_on(loader, accelerator.device):
                lr = optimizer.param_groups[0]["lr"]
                loss = loss_fn(forward(net, inputs), labels)  # forward pass and loss
                optimizer.zero_grad(set_to_none=True)  # forget the previous step's gradients
                accelerator.backward(loss)  # gradients; averaged across processes, float16 losses scaled
                if config.max_grad_norm is not None:  # clip: one bad batch must not throw the weights far away
                    accelerator.clip_grad_norm_(net.parameters(), config.max_grad_norm)
                optimizer.step()  # update the weights
                scheduler.step()  # the learning rate of the next step
                batch_loss = loss.item()
                seconds += time.perf_counter() - tick
                step, total, count = step + 1, total + batch_loss * len(labels), count + len(labels)
                record = {"step": step, "epoch": epoch, "train_loss": batch_loss, "lr": lr}
                if val_data is not None and config.eval_every and step % config.eval_every == 0:
                    record |= validate()  # step-level validation, when asked for
                history.steps.append(record)
                bar.update()
                bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
                tick = time.perf_counter()
            record = {"epoch": epoch, "train_loss": total / count, "seconds": seconds}
            if val_data is not None:
                record |= validate()  # validate once per epoch
            history.epochs.append(record)
            if on_epoch is not None:
                on_epoch(history)
            if val_data is None:
                continue
            # Remember the best epoch (and, with early stopping, its weights).
            score = monitored_score(record, config.monitor)
            if score < best_score:
                best_score, history.best_epoch = score, epoch
                if config.patience is not None:
                    state = accelerator.unwrap_model(net).state_dict()
                    best_state = {k: v.detach().cpu().clone() for k, v in state.items()}
            # Early stopping: the monitored value has not improved for `patience` epochs.
            elif config.patience is not None and epoch - (history.best_epoch or 0) >= config.patience:
                history.stopped_early = True
                break
    # Keep the best epoch's weights rather than the last ones whenever early stopping was on.
    if best_state is not None:
        model.load_state_dict(best_state)
    accelerator.unwrap_model(net, keep_fp32_wrapper=False)  # gives `model` back its own forward
    return history
