"""One training loop for the lessons and `sft-course` alike: optimisers, schedules, early stopping, history, and
Accelerate for devices, several processes and mixed precision."""
from __future__ import annotations

import contextlib
import functools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import pandas as pd
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from sft_helpers.progress import progress_bar
from sft_helpers.runtime import autocast, choose_device, mixed_precision, seed_everything

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MetricFn = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]
Collate = Callable[[list[Any]], dict[str, torch.Tensor]]

SCHEDULERS = (None, "linear", "cosine")
LOWER_IS_BETTER = frozenset({"loss", "mse", "rmse", "mae", "perplexity"})
EVAL_BATCH_SIZE = 64


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


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    return next(model.parameters(), torch.empty(0)).device


def forward(model: torch.nn.Module, inputs: dict[str, Any]) -> torch.Tensor:
    """Call the model on a batch's inputs; return its output tensor (its `.logits` when it returns an object)."""
    outputs = model(**inputs)
    return getattr(outputs, "logits", outputs)


def batches(loader: DataLoader, device: torch.device) -> Iterator[tuple[dict[str, Any], torch.Tensor | None]]:
    """Yield (inputs, labels) of each batch, moved to `device`; labels are None when the batch has none."""
    for batch in loader:
        moved = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        yield moved, moved.pop("labels", None)


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
        for inputs, labels in batches(DataLoader(dataset, batch_size=batch_size, collate_fn=collate_fn), device):
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
        for inputs, _ in batches(DataLoader(dataset, batch_size=batch_size, collate_fn=collate_fn), device):
            outputs.append(forward(model, inputs).float().cpu())
    return torch.cat(outputs)


def make_accelerator(device: torch.device) -> Accelerator:
    """One process on `device`, in mixed precision on CUDA (see `runtime.mixed_precision`)."""
    return Accelerator(cpu=device.type == "cpu", mixed_precision=mixed_precision(device))


@dataclass
class Run:
    """The state of one training run that its steps and epochs share."""

    model: torch.nn.Module  # as prepared by the accelerator (DDP-wrapped with several processes)
    loss_fn: LossFn
    config: TrainConfig
    accelerator: Accelerator
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    validate: Callable[[], dict[str, float]] | None
    bar: Any
    history: History = field(default_factory=History)
    step: int = 0
    best_score: float = math.inf
    best_state: dict[str, torch.Tensor] | None = None


def train_step(run: Run, inputs: dict[str, Any], labels: torch.Tensor) -> float:
    """One optimisation step (backward, clipping, update, schedule); returns the batch loss."""
    loss = run.loss_fn(forward(run.model, inputs), labels)
    run.optimizer.zero_grad(set_to_none=True)
    run.accelerator.backward(loss)  # averages gradients across processes; scales float16 losses
    if run.config.max_grad_norm is not None:  # one bad batch must not throw the weights far away
        run.accelerator.clip_grad_norm_(run.model.parameters(), run.config.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    return loss.item()


def run_epoch(run: Run, loader: DataLoader, epoch: int) -> dict[str, float]:
    """Train one epoch, recording every step (and step-level validation); return the epoch's record."""
    run.model.train()
    total, count, seconds, tick = 0.0, 0, 0.0, time.perf_counter()
    for inputs, labels in batches(loader, run.accelerator.device):
        lr = run.optimizer.param_groups[0]["lr"]
        loss = train_step(run, inputs, labels)
        seconds += time.perf_counter() - tick
        run.step, total, count = run.step + 1, total + loss * len(labels), count + len(labels)
        record = {"step": run.step, "epoch": epoch, "train_loss": loss, "lr": lr}
        if run.validate is not None and run.config.eval_every and run.step % run.config.eval_every == 0:
            record |= run.validate()
        run.history.steps.append(record)
        run.bar.update()
        run.bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        tick = time.perf_counter()
    return {"epoch": epoch, "train_loss": total / count, "seconds": seconds}


def monitored_score(record: dict[str, float], monitor: str) -> float:
    """The monitored validation value, signed so that lower is better."""
    key = f"val_{monitor}"
    if key not in record:
        raise ValueError(f"monitor {monitor!r} is not among the validation results {sorted(record)}")
    return record[key] if monitor in LOWER_IS_BETTER else -record[key]


def update_best(run: Run, record: dict[str, float]) -> bool:
    """Remember the best epoch (and its weights when patience is set); True when patience has run out."""
    score, patience = monitored_score(record, run.config.monitor), run.config.patience
    if score < run.best_score:
        run.best_score, run.history.best_epoch = score, record["epoch"]
        if patience is not None:
            state = run.accelerator.unwrap_model(run.model).state_dict()
            run.best_state = {k: v.detach().cpu().clone() for k, v in state.items()}
        return False
    return patience is not None and record["epoch"] - (run.history.best_epoch or 0) >= patience


def validation_record(result: dict[str, float]) -> dict[str, float]:
    """Validation results as `val_*` history entries (without the timing, so that histories repeat)."""
    return {f"val_{k}": v for k, v in result.items() if k != "examples_per_second"}


def make_validate(
    model: torch.nn.Module,
    val_data: Any,
    loss_fn: LossFn,
    metric_fn: MetricFn | None,
    config: TrainConfig,
    collate_fn: Collate | None,
    device: torch.device,
) -> Callable[[], dict[str, float]] | None:
    """A function that evaluates on `val_data` and returns `val_*` entries; None without validation data."""
    if val_data is None:
        return None
    batch_size = max(config.batch_size, EVAL_BATCH_SIZE)
    return lambda: validation_record(evaluate(model, val_data, loss_fn, metric_fn, batch_size, collate_fn, device))


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


def train_loader(train_data: Any, config: TrainConfig, collate_fn: Collate | None) -> DataLoader:
    """Batches of the training data, shuffled by a generator seeded from `config.seed` (grouped by length if asked)."""
    generator = torch.Generator().manual_seed(config.seed)
    if config.group_by_length:
        sampler = LengthGroupedBatches(sequence_lengths(train_data), config.batch_size, generator)
        return DataLoader(train_data, batch_sampler=sampler, collate_fn=collate_fn)
    return DataLoader(train_data, config.batch_size, shuffle=config.shuffle, collate_fn=collate_fn, generator=generator)


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
    loader = train_loader(train_data, config, collate_fn)
    prepared, optimizer, loader = accelerator.prepare(model, make_optimizer(config, model.parameters()), loader)
    # The schedule counts this process's steps, i.e. its share of the batches.
    scheduler = make_scheduler(config, optimizer, config.epochs * len(loader))
    # Every process validates the plain model on all of `val_data`, so all take the same early-stopping decision.
    validate = make_validate(model, val_data, loss_fn, metric_fn, config, collate_fn, accelerator.device)
    show = progress and accelerator.is_main_process
    with progress_bar(total=config.epochs * len(loader), desc="training", unit="step", disable=not show) as bar:
        run = Run(prepared, loss_fn, config, accelerator, optimizer, scheduler, validate, bar)
        for epoch in range(1, config.epochs + 1):
            record = run_epoch(run, loader, epoch)
            if validate is not None:
                record |= validate()
            run.history.epochs.append(record)
            if on_epoch is not None:
                on_epoch(run.history)
            # Early stopping: the monitored value has not improved for `patience` epochs.
            if validate is not None and update_best(run, record):
                run.history.stopped_early = True
                break
    # Keep the best epoch's weights rather than the last ones whenever early stopping was on.
    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    accelerator.unwrap_model(prepared, keep_fp32_wrapper=False)  # gives `model` back its own forward
    return run.history
