"""Saving a fine-tuned classifier and loading it back: identical predictions, a model card, clear errors."""
import json
import shutil

import pytest
import torch

from sft_helpers import load_encoder
from sft_helpers.data import NEWS_TOPICS
from sft_helpers.finetuned import FineTunedFolderError, load_finetuned, save_finetuned
from sft_helpers.models import encoder_classifier

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
    for expected in ("minilm", "data_samples/news", "MIT", "| lr | 0.0001 |", "| val_accuracy | 0.5 |", "English only"):
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


def test_missing_folder(tmp_path):
    with pytest.raises(FineTunedFolderError, match="no such folder"):
        load_finetuned(tmp_path / "nowhere")


def test_missing_head_is_named(saved, tmp_path):
    shutil.copytree(saved[2], tmp_path / "model", ignore=shutil.ignore_patterns("head.pt"))
    with pytest.raises(FineTunedFolderError, match=r"missing head\.pt \("):
        load_finetuned(tmp_path / "model")


def test_empty_folder_names_every_missing_file(tmp_path):
    with pytest.raises(FineTunedFolderError, match="missing sft_config.json, head.pt, backbone/config.json"):
        load_finetuned(tmp_path)


def test_wrong_kind(tmp_path):
    (tmp_path / "sft_config.json").write_text(json.dumps({"kind": "translator"}))
    with pytest.raises(FineTunedFolderError, match="this folder holds a translator model, not a classifier"):
        load_finetuned(tmp_path)


def test_malformed_json(tmp_path):
    (tmp_path / "sft_config.json").write_text('{"kind": "classifier",')
    with pytest.raises(FineTunedFolderError, match="sft_config.json is not valid JSON"):
        load_finetuned(tmp_path)
