"""The hyperparameter panel, driven without a kernel: set widget values, click Train, read the results."""
import pytest

from sft_helpers import data, load_encoder
from sft_helpers.models import encoder_classifier
from sft_helpers.widgets import HyperparameterPanel, TrialConfig, TrialContext, problems, run_trial


@pytest.fixture(scope="module")
def context():
    encoder, tokenizer = load_encoder("minilm")
    splits = data.encode_labels(data.load_course_data("reviews"), "sentiment", data.SENTIMENTS)
    tokens = data.tokenize(splits, tokenizer, "text").select_columns(["input_ids", "attention_mask", "labels"])
    tokens = tokens.with_format("torch")
    small = {"train": tokens["train"].select(range(48)), "validation": tokens["validation"].select(range(24))}
    return TrialContext(lambda: encoder_classifier(load_encoder("minilm")[0], 3), small)


def test_run_trial_is_a_pure_function_of_its_config(context):
    first = run_trial(TrialConfig(epochs=3), context)
    second = run_trial(TrialConfig(epochs=3), context)
    assert len(first.history.epochs) == 3 and 0 <= first.val_accuracy <= 1
    assert first.val_accuracy == second.val_accuracy and context.seconds_per_epoch[0] > 0


def test_clicking_train_adds_a_row_and_draws_the_curves(context):
    panel = HyperparameterPanel(context, TrialConfig(epochs=2))
    panel.button.click()
    panel.lr.value = 1e-2
    panel.button.click()
    assert panel.results["lr"].round(4).tolist() == [0.003, 0.01]
    assert bytes(panel.plot.value).startswith(b"\x89PNG") and "<table" in panel.table.value
    assert panel.status.value.startswith("Done")


def test_invalid_settings_are_refused_with_a_message_not_a_traceback(context):
    panel = HyperparameterPanel(context, TrialConfig(epochs=2))
    panel.batch_size.value = 128
    assert panel.button.disabled and "larger than the training set" in panel.status.value
    assert panel.train() is None and panel.results.empty
    panel.batch_size.value = 16
    panel.optimizer.value, panel.weight_decay.value = "sgd", 1.0
    assert panel.button.disabled and "use adamw" in panel.status.value
    panel.optimizer.value = "adamw"
    assert not panel.button.disabled


def test_deeper_unfreezing_states_or_refuses_its_duration(context):
    panel = HyperparameterPanel(context)
    context.seconds_per_epoch.pop(2, None)
    panel.layers.value = 2
    assert "not measured yet" in panel.status.value
    context.seconds_per_epoch[2] = 10.0
    panel.epochs.value = 20
    assert panel.button.disabled and "about 200 s" in panel.status.value
    panel.epochs.value = 5
    assert panel.status.value == "Ready: about 50 s."


def test_problems_lists_each_reason():
    context = TrialContext(lambda: None, {"train": [0] * 100})
    found = problems(TrialConfig(lr=-1, optimizer="rmsprop", trainable_top_layers=5), context)
    assert found == ["unknown optimiser 'rmsprop'", "learning rate, epochs and batch size must be positive",
                     "the panel trains 0 to 2 top layers"]
    assert problems(TrialConfig(batch_size=500), context) == [
        "batch size 500 is larger than the training set (100)"]


def test_review_box_shows_what_the_models_say_about_the_text_in_the_box():
    from sft_helpers.widgets import review_box

    def classify(texts):
        label = "negative" if "awful" in texts[0].lower() else "positive"
        return [{"label": label, "probabilities": {"negative": 0.8 if label == "negative" else 0.1,
                                                    "positive": 0.2 if label == "negative" else 0.9}}]

    box, show = review_box(classify, lambda texts: [len(texts[0]) / 2], example="Lovely")
    text, button, answer = box.children
    assert answer.value == "<b>positive</b> (negative 10%, positive 90%); about <b>3.0</b> stars"
    text.value = "Awful"
    button.click()
    assert answer.value == "<b>negative</b> (negative 80%, positive 20%); about <b>2.5</b> stars"


def test_the_learning_rate_control_shows_and_keeps_the_configured_value(context):
    panel = HyperparameterPanel(context, TrialConfig(lr=3e-3))
    assert panel.lr.value == 3e-3 and panel.lr.label == "3e-3" and panel.config().lr == 3e-3
    odd = HyperparameterPanel(context, TrialConfig(lr=2e-3))
    assert odd.lr.value == 2e-3 and odd.lr.label == "0.002"
    assert [label for label, _ in panel.lr.options][:3] == ["1e-5", "3e-5", "1e-4"]


def test_every_control_has_room_for_its_label(context):
    panel = HyperparameterPanel(context)
    for control in panel.controls():
        assert control.style.description_width == "7.5em" and control.layout.width == "21em"
    top = panel.widget().children[0]
    assert top.layout.flex_flow == "row wrap" and top.children[0].layout.flex == "0 0 auto"
