"""Fine-tuned models a learner keeps: save a classifier or a translator with its model card, load it back in one call."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import datasets
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sft_helpers import data
from sft_helpers.causal_lm import MAX_NEW_TOKENS, TRANSLATION_SYSTEM_PROMPT, translate
from sft_helpers.models import PretrainedClassifier
from sft_helpers.pretrained import PACKAGED_MODELS, load_causal_lm, load_encoder, quiet_loading
from sft_helpers.runtime import choose_device
from sft_helpers.train import eval_mode

CLASSIFIER, TRANSLATOR = "classifier", "translator"
TRANSLATION = "translation"
CONFIG_FILE, HEAD_FILE, CARD_FILE, BACKBONE_FOLDER, MODEL_FOLDER = (
    "sft_config.json", "head.pt", "README.md", "backbone", "model")
REQUIRED_FILES = {
    CLASSIFIER: (CONFIG_FILE, HEAD_FILE, "backbone/config.json", "backbone/model.safetensors",
                 "backbone/tokenizer_config.json"),
    TRANSLATOR: (CONFIG_FILE, "model/config.json", "model/model.safetensors", "model/tokenizer_config.json"),
}
CONFIG_KEYS = {
    CLASSIFIER: ("kind", "task", "labels", "pooling", "num_outputs", "base_model", "hyperparameters", "metrics"),
    TRANSLATOR: ("kind", "task", "system_prompt", "max_new_tokens", "base_model", "hyperparameters", "metrics"),
}
MAX_LENGTH = 128


@dataclass(frozen=True)
class Task:
    """A course task: its data set, how to read an example's text, its label column and label names."""

    dataset: str
    label_column: str
    labels: tuple[str, ...]
    text: Callable[[dict[str, Any]], str]
    description: str


TASKS = {
    "sentiment": Task("reviews", "sentiment", data.SENTIMENTS, lambda row: row["text"],
                      "the sentiment of a short English review"),
    "news": Task("news", "label", data.NEWS_TOPICS, lambda row: f"{row['title']}. {row['description']}",
                 "the topic of a short English news item (headline + description)"),
}


class FineTunedFolderError(ValueError):
    """A folder that does not hold a fine-tuned model that can be loaded."""


def course_task(name: str) -> Task:
    """The course task called `name`, or a clear ValueError."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; the course has: {', '.join(TASKS)}")
    return TASKS[name]


def task_data(name: str) -> datasets.DatasetDict:
    """The task's canonical splits with a `text` column and integer `labels`."""
    task = course_task(name)
    splits = data.load_course_data(task.dataset).map(lambda row: {"text": task.text(row)})
    return data.encode_labels(splits, task.label_column, task.labels)


def markdown_table(values: dict[str, Any], header: tuple[str, str]) -> str:
    """A two-column Markdown table of `values` (floats rounded to 4 digits)."""
    rows = [f"| {key} | {round(value, 4) if isinstance(value, float) else value} |" for key, value in values.items()]
    return "\n".join([f"| {header[0]} | {header[1]} |", "| --- | --- |", *rows])


def describe_base_model(name: str) -> str:
    """The base model for a model card: a packaged short name with its PyPI package, or the name as given."""
    entry = PACKAGED_MODELS.get(name)
    return f"`{name}` (from the PyPI package `{entry.distribution}`)" if entry else f"`{name}`"


def model_card(config: dict[str, Any]) -> str:
    """A classifier's model card in Markdown: what it does, base model, data, hyperparameters, metrics, limits."""
    task = course_task(config["task"])
    labels = ", ".join(f"`{label}`" for label in config["labels"])
    return f"""# Fine-tuned {config['task']} classifier

Predicts {task.description}: one of {labels}, with a probability for each.
Made with `sft-course` (the `sft_helpers` package of the SFT course).

## Use
```python
from sft_helpers.finetuned import load_finetuned

model = load_finetuned("path/to/this/folder")
model.predict(["your text here"])
```
or from a shell: `sft-course predict path/to/this/folder "your text here"`.

## Base model
{describe_base_model(config['base_model'])}, with {config['pooling']} pooling of its token vectors and a linear head
of {config['num_outputs']} outputs. `backbone/` holds the fine-tuned transformer and its tokenizer, `head.pt` the head.

## Data
`data_samples/{task.dataset}` of the course: English texts written by hand for the course (see its datasheet,
`data_samples/{task.dataset}/README.md`). License: MIT.

## Hyperparameters
{markdown_table(config['hyperparameters'], ('setting', 'value'))}

## Measured results
{markdown_table(config['metrics'], ('metric', 'value'))}

## Limits
- English only: the base model's vocabulary cannot read many other scripts, and it never saw them in fine-tuning.
- Small data: at most about 1,300 short training examples, written by hand by two or three writers, with invented
  names (and, in the news, invented events). Expect lower accuracy on real-world text, other domains, longer texts.
- Texts are cut after {MAX_LENGTH} tokens.
- It always answers with one of its labels, even for text that fits none of them; its probabilities are not
  calibrated, so read them as a ranking, not as a chance of being right.
- A teaching model: do not use it for decisions about people.
"""


def save_pretrained(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path) -> None:
    """Save a transformer and its tokenizer into `folder` (created with its parents if needed)."""
    with quiet_loading():  # hides the progress bar of writing one file
        model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def write_config_and_card(folder: Path, config: dict[str, Any], card: str) -> Path:
    """Write a saved model's `sft_config.json` and its model card (README.md) into `folder`; return the folder."""
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / CARD_FILE).write_text(card, encoding="utf-8")
    return folder


def save_finetuned(
    model: PretrainedClassifier,
    tokenizer: PreTrainedTokenizerBase,
    folder: str | Path,
    task: str,
    labels: list[str],
    base_model: str,
    hyperparameters: dict[str, Any],
    metrics: dict[str, Any],
) -> Path:
    """Save a classifier (backbone + tokenizer, head, config) and its model card into `folder`; return the folder."""
    if len(labels) != model.num_outputs:
        raise ValueError(f"{len(labels)} labels given for a model with {model.num_outputs} outputs")
    config = {"kind": CLASSIFIER, "task": task, "labels": list(labels), "pooling": model.pooling,
              "num_outputs": model.num_outputs, "base_model": base_model, "hyperparameters": hyperparameters,
              "metrics": metrics}
    card = model_card(config)
    folder = Path(folder)
    save_pretrained(model.backbone, tokenizer, folder / BACKBONE_FOLDER)
    torch.save({k: v.detach().cpu() for k, v in model.head.state_dict().items()}, folder / HEAD_FILE)
    return write_config_and_card(folder, config, card)


def read_config(folder: Path) -> dict[str, Any]:
    """The folder's `sft_config.json`, checked to be the complete config of a classifier or a translator."""
    path = folder / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise FineTunedFolderError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise FineTunedFolderError(f"{path} should hold a JSON object, found {type(config).__name__}")
    kind = config.setdefault("kind", CLASSIFIER)
    if kind not in REQUIRED_FILES:
        raise FineTunedFolderError(f"{folder}: this folder holds a {kind} model, not a {' or a '.join(REQUIRED_FILES)}")
    missing = [key for key in CONFIG_KEYS[kind] if key not in config]
    if missing:
        raise FineTunedFolderError(f"{path} lacks the key(s) {', '.join(missing)}")
    return config


def check_folder(folder: Path, task: str | None = None) -> dict[str, Any]:
    """The config of a folder that holds every file of a saved model (of `task`, if given), else a clear error."""
    if not folder.is_dir():
        raise FineTunedFolderError(f"no such folder: {folder}")
    if not (folder / CONFIG_FILE).is_file():
        raise FineTunedFolderError(f"{folder} is not a fine-tuned model: missing {CONFIG_FILE} "
                                   "(save one with save_finetuned or save_translator, or `sft-course train`)")
    config = read_config(folder)
    if task is not None and config["task"] != task:
        raise FineTunedFolderError(f"{folder} holds a model fine-tuned for {config['task']}, not for {task}")
    missing = [name for name in REQUIRED_FILES[config["kind"]] if not (folder / name).is_file()]
    if missing:
        raise FineTunedFolderError(f"{folder} is not a complete fine-tuned {config['kind']}: missing "
                                   f"{', '.join(missing)} (save it again with save_finetuned or save_translator)")
    return config


def check_texts(texts: list[str]) -> None:
    """A TypeError unless `texts` is a list of strings (a lone string is a common slip)."""
    if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
        raise TypeError("texts must be a list of strings, e.g. ['a text']")


class FineTunedClassifier:
    """A saved classifier loaded back: its model, tokenizer and config, ready to predict."""

    def __init__(self, model: PretrainedClassifier, tokenizer: PreTrainedTokenizerBase, config: dict[str, Any]):
        self.model, self.tokenizer, self.config = model.eval(), tokenizer, config

    @property
    def labels(self) -> list[str]:
        """The label names, in the order of the model's outputs."""
        return self.config["labels"]

    @property
    def task(self) -> str:
        """The task the model was fine-tuned for."""
        return self.config["task"]

    def probabilities(self, texts: list[str], batch_size: int = 32) -> torch.Tensor:
        """Class probabilities for each text, one row per text (eval mode, batched, no gradients)."""
        check_texts(texts)
        device = next(self.model.parameters()).device
        rows = []
        with eval_mode(self.model):
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(texts[start : start + batch_size], padding=True, truncation=True,
                                       max_length=MAX_LENGTH, return_tensors="pt").to(device)
                rows.append(self.model(batch["input_ids"], batch["attention_mask"]).float().softmax(-1).cpu())
        return torch.cat(rows) if rows else torch.empty(0, len(self.labels))

    def predict(self, texts: list[str], batch_size: int = 32) -> list[dict[str, Any]]:
        """For each text, the most probable label and the probability of every label."""
        return [
            {"label": self.labels[int(row.argmax())], "probabilities": dict(zip(self.labels, row.tolist()))}
            for row in self.probabilities(texts, batch_size)
        ]


def translator_card(config: dict[str, Any]) -> str:
    """A translator's model card in Markdown: what it does, base model, prompt, data, hyperparameters, metrics, limits."""
    return f"""# Fine-tuned Chinese-to-English translator

Translates short everyday Chinese sentences (simplified characters) into English.
Made with `sft-course` (the `sft_helpers` package of the SFT course), by supervised fine-tuning of a chat model.

## Use
```python
from sft_helpers.finetuned import load_finetuned

model = load_finetuned("path/to/this/folder")
model.translate(["我喜欢喝茶。"])
```
or from a shell: `sft-course predict path/to/this/folder "我喜欢喝茶。"`.

## Base model and prompt
{describe_base_model(config['base_model'])}, a causal language model, fine-tuned on chats of three turns: the system
message "{config['system_prompt']}", the Chinese sentence as the user's turn and the English as the assistant's.
The loss counted the assistant's tokens only (the prompt had the label -100). `model/` holds the weights and the
tokenizer with its chat template. Decoding is greedy, at most {config['max_new_tokens']} new tokens.

## Data
`data_samples/translation` of the course: 1,640 Chinese-English pairs of everyday sentences written by hand for the
course (see its datasheet, `data_samples/translation/README.md`). License: MIT.

## Hyperparameters
{markdown_table(config['hyperparameters'], ('setting', 'value'))}

## Measured results
BLEU and chrF (sacreBLEU, 0-100, one reference per sentence) on the validation split; `zero_shot` is the base model
with the same prompt before fine-tuning.

{markdown_table(config['metrics'], ('metric', 'value'))}

## Limits
- A small model fine-tuned on little data: fluent English that is often wrong in content. Do not rely on it for
  meaning.
- Short, everyday, single sentences; longer inputs are translated worse and outputs are cut after
  {config['max_new_tokens']} tokens.
- Scores against one reference translation undervalue correct paraphrases; compare systems, not absolute grades.
- A teaching model: do not use it where a mistranslation could harm anyone.
"""


def save_translator(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    folder: str | Path,
    base_model: str,
    hyperparameters: dict[str, Any],
    metrics: dict[str, Any],
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> Path:
    """Save a fine-tuned causal LM translator (weights, tokenizer, config) and its model card; return the folder."""
    if hasattr(model, "merge_and_unload"):
        raise TypeError("this is a LoRA (PEFT) model: merge the adapters first, model = model.merge_and_unload()")
    config = {"kind": TRANSLATOR, "task": TRANSLATION, "system_prompt": TRANSLATION_SYSTEM_PROMPT,
              "max_new_tokens": max_new_tokens, "base_model": base_model, "hyperparameters": hyperparameters,
              "metrics": metrics}
    folder = Path(folder)
    save_pretrained(model, tokenizer, folder / MODEL_FOLDER)
    return write_config_and_card(folder, config, translator_card(config))


class FineTunedTranslator:
    """A saved translator loaded back: its causal LM, tokenizer and config, ready to translate."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, config: dict[str, Any]):
        self.model, self.tokenizer, self.config = model.eval(), tokenizer, config

    @property
    def task(self) -> str:
        """The task the model was fine-tuned for (translation)."""
        return self.config["task"]

    def translate(self, texts: list[str], batch_size: int = 16) -> list[str]:
        """The English translation of each Chinese text (greedy, with the prompt the model was trained on)."""
        check_texts(texts)
        return translate(self.model, self.tokenizer, texts, self.config["max_new_tokens"], batch_size,
                         self.config["system_prompt"])


def load_finetuned(
    folder: str | Path, device: str | None = None, task: str | None = None
) -> FineTunedClassifier | FineTunedTranslator:
    """Load a model saved by `save_finetuned` or `save_translator` (checked to be for `task`, if given) on `device`."""
    folder = Path(folder)
    config = check_folder(folder, task)
    if config["kind"] == TRANSLATOR:
        model, tokenizer = load_causal_lm(str(folder / MODEL_FOLDER))
        return FineTunedTranslator(model.to(choose_device(device)), tokenizer, config)
    backbone, tokenizer = load_encoder(str(folder / BACKBONE_FOLDER))
    model = PretrainedClassifier(backbone, config["num_outputs"], config["pooling"])
    model.head.load_state_dict(torch.load(folder / HEAD_FILE, map_location="cpu", weights_only=True))
    return FineTunedClassifier(model.to(choose_device(device)), tokenizer, config)
