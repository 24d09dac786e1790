"""The training loop on a tiny linear classifier: optimisers, seeding, early stopping, checks, schedules, clipping."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from sft_helpers.evaluation import evaluate, predict
from sft_helpers.train import TrainConfig, check_config, make_accelerator, train

FEATURES = 4


class Linear(torch.nn.Module):
    """A linear classifier called the way the loop calls models: `model(features=...)`."""

    def __init__(self, classes: int = 2, wrap: bool = False, dropout: float = 0.0):
        super().__init__()
        self.dropout = torch.nn.Dropout(dropout)
        self.layer = torch.nn.Linear(FEATURES, classes)
        self.wrap = wrap

    def forward(self, features):
        logits = self.layer(self.dropout(features))
        return SimpleNamespace(logits=logits) if self.wrap else logits


def make_model(**kwargs) -> Linear:
    torch.manual_seed(123)
    return Linear(**kwargs)


def make_data(count: int, seed: int, flip: bool = False) -> list[dict[str, torch.Tensor]]:
    """Linearly separable points (label = which side of a fixed plane), labels optionally flipped."""
    features = torch.randn(count, FEATURES, generator=torch.Generator().manual_seed(seed))
    labels = (features @ torch.tensor([1.0, -2.0, 0.5, 1.5]) > 0).long()
    labels = 1 - labels if flip else labels
    return [{"features": x, "labels": y} for x, y in zip(features, labels)]


def accuracy(outputs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    return {"accuracy": (outputs.argmax(-1) == labels).float().mean().item()}


TRAIN, VAL = make_data(256, seed=1), make_data(128, seed=2)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors gain nothing from threads, and threads slow down on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fit(config: TrainConfig, model=None, train_data=TRAIN, val_data=VAL):
    model = model or make_model()
    history = train(model, train_data, config, F.cross_entropy, val_data, accuracy, device="cpu", progress=False)
    return model, history


def without_time(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.5), ("sgd_momentum", 0.1), ("adam", 0.05), ("adamw", 0.05)])
def test_each_optimizer_learns_a_separable_problem(optimizer, lr):
    _, history = fit(TrainConfig(optimizer=optimizer, lr=lr, epochs=5))
    first, last = history.epochs[0], history.epochs[-1]
    assert last["train_loss"] < 0.7 * first["train_loss"]
    assert last["val_accuracy"] > 0.9
    assert len(history.steps) == 5 * 8 and history.steps[-1]["step"] == 40


def test_the_same_seed_repeats_the_history_and_another_seed_does_not():
    config = TrainConfig(optimizer="sgd_momentum", lr=0.1, epochs=3, eval_every=4)
    _, first = fit(config, model=make_model(dropout=0.2))
    second_model = make_model(dropout=0.2)
    torch.rand(100)  # the global random state differs from the first run's: train must seed it again
    _, second = fit(config, model=second_model)
    _, other = fit(TrainConfig(optimizer="sgd_momentum", lr=0.1, epochs=3, eval_every=4, seed=1))
    assert first.steps == second.steps and without_time(first.epochs) == without_time(second.epochs)
    assert [s["train_loss"] for s in other.steps] != [s["train_loss"] for s in first.steps]


def test_step_level_validation_every_n_steps():
    _, history = fit(TrainConfig(lr=0.05, epochs=2, eval_every=5))
    evaluated = [s["step"] for s in history.steps if "val_loss" in s]
    assert evaluated == [5, 10, 15] and all("val_accuracy" in s for s in history.steps if "val_loss" in s)
    assert list(history.epochs_frame().columns) == ["epoch", "train_loss", "seconds", "val_loss", "val_accuracy"]
    assert len(history.steps_frame()) == 16 and history.seconds_per_epoch() > 0


@pytest.mark.parametrize("monitor", ["loss", "accuracy"])
def test_early_stopping_stops_and_restores_the_best_weights(monitor):
    flipped = make_data(128, seed=2, flip=True)  # the better the model learns, the worse it does here
    config = TrainConfig(lr=0.05, epochs=20, patience=2, monitor=monitor)
    model, history = fit(config, val_data=flipped)
    assert history.stopped_early and len(history.epochs) == history.best_epoch + 2 < 20
    best, last = history.epochs[history.best_epoch - 1], history.epochs[-1]
    restored = evaluate(model, flipped, F.cross_entropy, accuracy)
    assert restored[monitor] == pytest.approx(best[f"val_{monitor}"], abs=1e-6)
    assert restored[monitor] != pytest.approx(last[f"val_{monitor}"], abs=1e-3)


def test_without_patience_training_runs_every_epoch_and_keeps_the_last_weights():
    flipped = make_data(128, seed=2, flip=True)
    model, history = fit(TrainConfig(lr=0.05, epochs=4), val_data=flipped)
    assert not history.stopped_early and len(history.epochs) == 4 and history.best_epoch == 1
    assert evaluate(model, flipped, F.cross_entropy)["loss"] == pytest.approx(history.epochs[-1]["val_loss"])


@pytest.mark.parametrize("monitor, best", [("loss", min), ("accuracy", max)])
def test_the_best_epoch_is_the_one_with_the_best_monitored_value(monitor, best):
    _, history = fit(TrainConfig(optimizer="sgd", lr=0.005, batch_size=64, epochs=6, monitor=monitor))
    values = [e[f"val_{monitor}"] for e in history.epochs]
    assert history.best_epoch == values.index(best(values)) + 1 > 1


def frozen_model() -> Linear:
    model = make_model()
    model.requires_grad_(False)
    return model


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"optimizer": "lbfgs"}, r"unknown optimizer 'lbfgs'; choose one of: 'sgd', 'sgd_momentum', 'adam', 'adamw'"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"lr": -1e-3}, "lr must be > 0"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"scheduler": "step"}, "unknown scheduler 'step'"),
        ({"warmup_steps": -1}, "warmup_steps must be >= 0"),
        ({"weight_decay": -0.1}, "weight_decay must be >= 0"),
        ({"momentum": 1.0}, "momentum must be >= 0 and < 1"),
        ({"max_grad_norm": 0}, r"max_grad_norm must be > 0 or None, got 0"),
        ({"max_grad_norm": -1.0}, r"max_grad_norm must be > 0 or None"),
        ({"patience": 0}, r"patience must be >= 1 or None, got 0"),
        ({"eval_every": 0}, r"eval_every must be >= 1 or None, got 0"),
    ],
)
def test_a_bad_configuration_is_a_clear_error(overrides, message):
    with pytest.raises(ValueError, match=message):
        check_config(TrainConfig(**overrides), make_model())


def test_a_fully_frozen_model_is_refused_before_training():
    with pytest.raises(ValueError, match="no trainable parameters: everything is frozen"):
        fit(TrainConfig(), model=frozen_model())


def test_the_default_configuration_passes_the_checks():
    check_config(TrainConfig(), make_model())


@pytest.mark.parametrize("overrides", [{"patience": 2}, {"eval_every": 10}])
def test_validation_settings_need_validation_data(overrides):
    with pytest.raises(ValueError, match="needs val_data"):
        train(make_model(), TRAIN, TrainConfig(**overrides), F.cross_entropy, progress=False)


def test_monitoring_a_metric_needs_a_metric_function():
    with pytest.raises(ValueError, match="monitor 'accuracy' needs a metric_fn"):
        train(make_model(), TRAIN, TrainConfig(monitor="accuracy"), F.cross_entropy, VAL, progress=False)


@pytest.mark.parametrize(
    "scheduler, expected",
    [
        (None, [0.5, 1.0, 1.0, 1.0, 1.0, 1.0]),
        ("linear", [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]),
        ("cosine", [0.5, 1.0, 1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 - math.cos(math.pi / 4))]),
    ],
)
def test_the_schedule_warms_up_then_decays(scheduler, expected):
    config = TrainConfig(lr=0.1, batch_size=8, epochs=2, scheduler=scheduler, warmup_steps=2)
    _, history = fit(config, train_data=TRAIN[:24])
    assert [s["lr"] for s in history.steps] == pytest.approx([0.1 * factor for factor in expected])


def test_evaluate_returns_the_mean_loss_and_the_metrics():
    model = make_model()
    result = evaluate(model, VAL[:100], F.cross_entropy, accuracy, batch_size=32)
    features = torch.stack([row["features"] for row in VAL[:100]])
    labels = torch.stack([row["labels"] for row in VAL[:100]])
    assert set(result) == {"loss", "accuracy", "examples_per_second"}
    assert result["loss"] == pytest.approx(F.cross_entropy(model(features), labels).item(), abs=1e-6)
    assert result["accuracy"] == pytest.approx(accuracy(model(features), labels)["accuracy"])


def test_models_that_return_an_object_with_logits_work_too():
    plain, wrapped = make_model(), make_model(wrap=True)
    assert torch.equal(predict(plain, VAL, batch_size=50), predict(wrapped, VAL, batch_size=50))
    assert evaluate(plain, VAL, F.cross_entropy)["loss"] == evaluate(wrapped, VAL, F.cross_entropy)["loss"]
    _, history = fit(TrainConfig(lr=0.05, epochs=2), model=make_model(wrap=True))
    assert history.epochs[-1]["val_accuracy"] > 0.9


def test_predict_returns_float32_outputs_on_the_cpu_in_order():
    model = make_model()
    outputs = predict(model, VAL, batch_size=50)
    expected = model(torch.stack([row["features"] for row in VAL]))
    assert outputs.dtype == torch.float32 and outputs.device.type == "cpu"
    assert torch.allclose(outputs, expected)


def test_evaluate_leaves_the_model_in_the_mode_it_found():
    model = make_model()
    evaluate(model, VAL, F.cross_entropy)
    assert model.training


def parameter_change(max_grad_norm: float | None) -> float:
    """Norm of the parameter update of one plain-SGD step with lr 1 on a badly scaled batch."""
    model = make_model()
    before = torch.cat([p.detach().clone().flatten() for p in model.parameters()])
    loud = [{"features": row["features"] * 100, "labels": row["labels"]} for row in TRAIN[:32]]
    config = TrainConfig(optimizer="sgd", lr=1.0, batch_size=32, epochs=1, max_grad_norm=max_grad_norm)
    train(model, loud, config, F.cross_entropy, device="cpu", progress=False)
    return (torch.cat([p.detach().flatten() for p in model.parameters()]) - before).norm().item()


def test_a_given_accelerator_runs_the_same_loop():
    config = TrainConfig(lr=0.05, epochs=2, max_grad_norm=1.0)
    _, own = fit(config)
    model = make_model()
    given = train(model, TRAIN, config, F.cross_entropy, VAL, accuracy, progress=False,
                  accelerator=make_accelerator(torch.device("cpu")))
    assert own.steps == given.steps


def test_gradient_clipping_bounds_the_update():
    assert parameter_change(None) > 1.0
    assert parameter_change(0.01) == pytest.approx(0.01, rel=1e-4)


def test_a_hugging_face_dataset_in_torch_format_trains():
    datasets = pytest.importorskip("datasets")
    columns = {"features": [row["features"].tolist() for row in TRAIN], "labels": [int(row["labels"]) for row in TRAIN]}
    dataset = datasets.Dataset.from_dict(columns).with_format("torch")
    _, history = fit(TrainConfig(lr=0.05, epochs=3), train_data=dataset)
    assert history.epochs[-1]["val_accuracy"] > 0.9
