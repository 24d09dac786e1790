"""Fine-tuned models a learner keeps: save a classifier, regressor or generator with its card; load it in one call.

Used in lessons: 07, 08, 10
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sft_helpers import data
from sft_helpers.causal_lm import MAX_NEW_TOKENS, generate_replies
from sft_helpers.evaluation import eval_mode
from sft_helpers.models import PretrainedClassifier
from sft_helpers.pretrained import PACKAGED_MODELS, load_causal_lm, load_encoder, quiet_loading
from sft_helpers.recipes import ENCODER
from sft_helpers.runtime import choose_device
from sft_helpers.tasks import Task, course_task

CLASSIFIER, REGRESSOR, GENERATOR, INSTRUCT = "classifier", "regressor", "generator", "instruct"
CONFIG_FILE, HEAD_FILE, CARD_FILE, BACKBONE_FOLDER, MODEL_FOLDER = (
    "sft_config.json", "head.pt", "README.md", "backbone", "model")
UNFINISHED_FILE = "UNFINISHED"  # present while a folder is being written; such a folder never loads
ENCODER_FILES = (CONFIG_FILE, HEAD_FILE, "backbone/config.json", "backbone/model.safetensors",
                 "backbone/tokenizer_config.json")
REQUIRED_FILES = {
    CLASSIFIER: ENCODER_FILES,
    REGRESSOR: ENCODER_FILES,
    GENERATOR: (CONFIG_FILE, "model/config.json", "model/model.safetensors", "model/tokenizer_config.json"),
    INSTRUCT: (CONFIG_FILE, "model/config.json", "model/model.safetensors", "model/tokenizer_config.json"),
}
BASE_KEYS = ("kind", "task", "description", "base_model", "hyperparameters", "metrics", "data")
CONFIG_KEYS = {
    CLASSIFIER: (*BASE_KEYS, "labels", "pooling", "num_outputs"),
    REGRESSOR: (*BASE_KEYS, "pooling", "num_outputs"),
    GENERATOR: (*BASE_KEYS, "system_prompt", "max_new_tokens", "text_metrics"),
    INSTRUCT: (*BASE_KEYS, "tasks", "mixing_ratio", "general_share", "heldout_phrasings", "max_new_tokens"),
}
LIMITS = {
    CLASSIFIER: "It always answers with one of its labels, even for text that fits none of them; its probabilities "
                "are not calibrated, so read them as a ranking, not as a chance of being right.",
    REGRESSOR: "Its numbers are not bounded to the range seen in training, and it gives no uncertainty.",
    GENERATOR: "A small model fine-tuned on little data: fluent output that is often wrong in content; greedy "
               "decoding, outputs cut after the configured number of new tokens. Do not rely on it for meaning.",
    INSTRUCT: "A small chat model tuned on three narrow tasks: it may answer other instructions worse than before "
              "(see the forgetting probe above), and its answers to the tasks can be wrong or malformed.",
}


class FineTunedFolderError(ValueError):
    """A folder that does not hold a fine-tuned model that can be loaded."""


def data_record(task: Task, split_sizes: dict[str, int] | None = None) -> dict[str, Any]:
    """What a model card says about the data: each file (path, bytes, SHA-256), columns, labels, split sizes."""
    return {"files": {key: data.file_record(path) for key, path in task.files.items()},
            "text_columns": list(task.text_columns), "joiner": task.joiner, "target_column": task.target_column,
            "label_map": {index: label for index, label in enumerate(task.labels)}, "license": task.license,
            "split_sizes": split_sizes or {}}


def markdown_table(values: dict[str, Any], header: tuple[str, str]) -> str:
    """A two-column Markdown table of `values` (floats rounded to 4 digits)."""
    rows = [f"| {key} | {round(value, 4) if isinstance(value, float) else value} |" for key, value in values.items()]
    return "\n".join([f"| {header[0]} | {header[1]} |", "| --- | --- |", *rows])


def describe_base_model(name: str) -> str:
    """The base model for a model card: a packaged short name with its PyPI package, or the name as given."""
    entry = PACKAGED_MODELS.get(name)
    return f"`{name}` (from the PyPI package `{entry.distribution}`)" if entry else f"`{name}`"


def file_table(files: dict[str, dict[str, Any]]) -> str:
    """A model card's Markdown table of data files: key, path, size and SHA-256."""
    rows = [f"| {key} | `{f['path']}` | {f['bytes']:,} | `{f['sha256']}` |" for key, f in files.items()]
    return "\n".join(["| file | path | bytes | SHA-256 |", "| --- | --- | --- | --- |", *rows])


def data_section(record: dict[str, Any]) -> str:
    """The model card's data section: files with size and SHA-256, columns, label map, split sizes, license."""
    lines = [file_table(record["files"]), "",
             f"Input: column(s) {', '.join(f'`{c}`' for c in record['text_columns'])}"
             + (f" joined by `{record['joiner']}`" if len(record["text_columns"]) > 1 else "")
             + f"; target: column `{record['target_column']}`."]
    if record["label_map"]:
        pairs = ", ".join(f"{index}: `{label}`" for index, label in record["label_map"].items())
        lines.append(f"Label map (output index: label): {pairs}.")
    if record["split_sizes"]:
        lines.append("Examples per split: " + ", ".join(f"{k} {v:,}" for k, v in record["split_sizes"].items()) + ".")
    lines.append(f"License of the data: {record['license'] or 'not stated'}.")
    return "\n".join(lines)


def model_card(config: dict[str, Any]) -> str:
    """A saved model's card in Markdown: what it does, use, base model, data, hyperparameters, metrics, limits."""
    kind = config["kind"]
    example = {CLASSIFIER: 'model.predict(["your text here"])', REGRESSOR: 'model.predict(["your text here"])',
               GENERATOR: 'model.generate(["your text here"])'}[kind]
    what = {CLASSIFIER: f"one of {', '.join(f'`{l}`' for l in config.get('labels', []))}, with a probability for each",
            REGRESSOR: "a number", GENERATOR: "a text, greedily decoded"}[kind]
    base = {CLASSIFIER: f"with {config.get('pooling')} pooling of its token vectors and a linear head; `backbone/` holds "
                        "the fine-tuned transformer and its tokenizer, `head.pt` the head.",
            REGRESSOR: f"with {config.get('pooling')} pooling of its token vectors and a linear head of one output; "
                       "`backbone/` holds the fine-tuned transformer and its tokenizer, `head.pt` the head.",
            GENERATOR: f"a causal language model fine-tuned on chats: the system message {config.get('system_prompt')!r} "
                       "(None: the model's default), the input as the user's turn, the target as the assistant's. "
                       "The loss counted the assistant's tokens only (the prompt had the label -100). `model/` holds "
                       "the weights and the tokenizer with its chat template."}[kind]
    return f"""# Fine-tuned {config['task']} {kind}

Predicts {config['description']}: {what}.
Made with `sft-course` (the `sft_helpers` package of the SFT course).

## Use
```python
from sft_helpers.finetuned import load_finetuned

model = load_finetuned("path/to/this/folder")
{example}
```
or from a shell: `sft-course predict path/to/this/folder "your text here"`.

## Base model
{describe_base_model(config['base_model'])}, {base}

## Data
{data_section(config['data'])}

## Training configuration
{markdown_table(config['hyperparameters'], ('setting', 'value'))}

## Measured results
{markdown_table(config['metrics'], ('metric', 'value'))}

## Limits
- Trained on the data above only: expect lower scores on text written differently (other domains, styles, lengths).
- Texts are cut after {ENCODER.max_length} tokens.
- {LIMITS[kind]}
- The packaged base models read English (MiniLM) or mostly English (SmolLM2); other languages fare worse.
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
    task: str | Task,
    labels: list[str],
    base_model: str,
    hyperparameters: dict[str, Any],
    metrics: dict[str, Any],
    data_info: dict[str, Any] | None = None,
) -> Path:
    """Save a classifier, or a regressor (no labels, one output), with its config and model card; return the folder."""
    task = course_task(task) if isinstance(task, str) else task
    kind = CLASSIFIER if labels else REGRESSOR
    if len(labels or [None]) != model.num_outputs:
        raise ValueError(f"{len(labels)} labels given for a model with {model.num_outputs} outputs")
    config = {"kind": kind, "task": task.name, "description": task.description, "base_model": base_model,
              "hyperparameters": hyperparameters, "metrics": metrics, "data": data_info or data_record(task),
              "pooling": model.pooling, "num_outputs": model.num_outputs} | ({"labels": list(labels)} if labels else {})
    folder = Path(folder)
    save_pretrained(model.backbone, tokenizer, folder / BACKBONE_FOLDER)
    torch.save({k: v.detach().cpu() for k, v in model.head.state_dict().items()}, folder / HEAD_FILE)
    return write_config_and_card(folder, config, model_card(config))


def read_config(folder: Path) -> dict[str, Any]:
    """The folder's `sft_config.json`, checked to be the complete config of a model kind it names."""
    path = folder / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise FineTunedFolderError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise FineTunedFolderError(f"{path} should hold a JSON object, found {type(config).__name__}")
    kind = config.get("kind")
    if kind not in REQUIRED_FILES:
        kinds = " or ".join(("an " if name[0] in "aeiou" else "a ") + name for name in REQUIRED_FILES)
        raise FineTunedFolderError(f"{folder}: this folder holds a {kind} model, not {kinds}")
    missing = [key for key in CONFIG_KEYS[kind] if key not in config]
    if missing:
        raise FineTunedFolderError(f"{path} lacks the key(s) {', '.join(missing)}")
    return config


def check_folder(folder: Path, task: str | None = None) -> dict[str, Any]:
    """The config of a folder that holds every file of a saved model (of `task`, if given), else a clear error."""
    if not folder.is_dir():
        raise FineTunedFolderError(f"no such folder: {folder}")
    if (folder / UNFINISHED_FILE).exists():
        raise FineTunedFolderError(f"{folder} was left by a run that did not finish; train again")
    if not (folder / CONFIG_FILE).is_file():
        raise FineTunedFolderError(f"{folder} is not a fine-tuned model: missing {CONFIG_FILE} "
                                   "(save one with save_finetuned, save_generator or save_instruct, or `sft-course train`)")
    config = read_config(folder)
    if task is not None and config["task"] != task:
        raise FineTunedFolderError(f"{folder} holds a model fine-tuned for {config['task']}, not for {task}")
    missing = [name for name in REQUIRED_FILES[config["kind"]] if not (folder / name).is_file()]
    if missing:
        raise FineTunedFolderError(f"{folder} is not a complete fine-tuned {config['kind']}: missing "
                                   f"{', '.join(missing)} (save it again with save_finetuned, save_generator or save_instruct)")
    return config


def check_texts(texts: list[str]) -> None:
    """A TypeError unless `texts` is a list of strings (a lone string is a common slip)."""
    if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
        raise TypeError("texts must be a list of strings, e.g. ['a text']")


class SavedModel:
    """A saved model loaded back: its model (in evaluation mode), tokenizer and config."""

    def __init__(self, model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, config: dict[str, Any]):
        self.model, self.tokenizer, self.config = model.eval(), tokenizer, config

    @property
    def task(self) -> str:
        """The task the model was fine-tuned for ("instruct" for an instruction-tuned model)."""
        return self.config["task"]


class FineTunedEncoder(SavedModel):
    """A saved encoder model loaded back, ready to score texts."""

    def outputs(self, texts: list[str], batch_size: int = 32) -> torch.Tensor:
        """The model's outputs for each text, one row per text (eval mode, batched, no gradients)."""
        check_texts(texts)
        device = next(self.model.parameters()).device
        rows = []
        with eval_mode(self.model):
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(texts[start : start + batch_size], padding=True, truncation=True,
                                       max_length=ENCODER.max_length, return_tensors="pt").to(device)
                rows.append(self.model(batch["input_ids"], batch["attention_mask"]).float().cpu())
        return torch.cat(rows) if rows else torch.empty(0, self.model.num_outputs)


class FineTunedClassifier(FineTunedEncoder):
    """A saved classifier loaded back, ready to predict labels."""

    @property
    def labels(self) -> list[str]:
        """The label names, in the order of the model's outputs."""
        return self.config["labels"]

    def probabilities(self, texts: list[str], batch_size: int = 32) -> torch.Tensor:
        """Class probabilities for each text, one row per text."""
        return self.outputs(texts, batch_size).softmax(-1)

    def predict(self, texts: list[str], batch_size: int = 32) -> list[dict[str, Any]]:
        """For each text, the most probable label and the probability of every label."""
        return [
            {"label": self.labels[int(row.argmax())], "probabilities": dict(zip(self.labels, row.tolist()))}
            for row in self.probabilities(texts, batch_size)
        ]


class FineTunedRegressor(FineTunedEncoder):
    """A saved regressor loaded back, ready to predict a number per text."""

    def predict(self, texts: list[str], batch_size: int = 32) -> list[dict[str, float]]:
        """For each text, the predicted value."""
        return [{"value": value} for value in self.outputs(texts, batch_size).reshape(-1).tolist()]


def check_merged(model: PreTrainedModel) -> None:
    """Refuse a LoRA (PEFT) model: the adapters must be merged into the weights before saving."""
    if hasattr(model, "merge_and_unload"):
        raise TypeError("this is a LoRA (PEFT) model: merge the adapters first, model = model.merge_and_unload()")


def save_generator(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    folder: str | Path,
    task: str | Task,
    base_model: str,
    hyperparameters: dict[str, Any],
    metrics: dict[str, Any],
    max_new_tokens: int = MAX_NEW_TOKENS,
    data_info: dict[str, Any] | None = None,
) -> Path:
    """Save a causal LM fine-tuned for a seq2seq task (weights, tokenizer, config) and its card; return the folder."""
    check_merged(model)
    task = course_task(task) if isinstance(task, str) else task
    config = {"kind": GENERATOR, "task": task.name, "description": task.description, "base_model": base_model,
              "hyperparameters": hyperparameters, "metrics": metrics, "data": data_info or data_record(task),
              "system_prompt": task.instruction, "max_new_tokens": max_new_tokens, "text_metrics": list(task.metrics)}
    folder = Path(folder)
    save_pretrained(model, tokenizer, folder / MODEL_FOLDER)
    return write_config_and_card(folder, config, model_card(config))


class FineTunedGenerator(SavedModel):
    """A saved seq2seq model (a causal LM) loaded back, ready to generate."""

    def generate(self, texts: list[str], batch_size: int = 16) -> list[str]:
        """The output for each input text (greedy, with the system prompt the model was trained with)."""
        check_texts(texts)
        with eval_mode(self.model):
            return generate_replies(self.model, self.tokenizer, texts, self.config["max_new_tokens"],
                                    self.config["system_prompt"], batch_size)


def instruct_card(config: dict[str, Any]) -> str:
    """The model card of an instruction-tuned model: tasks, mixing ratio, held-out phrasings, data, scores, limits."""
    ratio = ", ".join(f"{task} {share:g}" for task, share in config["mixing_ratio"].items())
    heldout = "\n".join(f"| {p['id']} | {p['task']} | {p['language']} | {p['template']!r} |"
                         for p in config["heldout_phrasings"])
    files = file_table(config["data"]["files"])
    return f"""# Fine-tuned instruction model ({', '.join(config['tasks'])})

Answers {config['description']}: a text, greedily decoded (at most {config['max_new_tokens']} new tokens).
Made with `sft-course` (the `sft_helpers` package of the SFT course).

## Use
```python
from sft_helpers.finetuned import load_finetuned

model = load_finetuned("path/to/this/folder")
model.answer(["What is the sentiment of this review? Answer with one word: negative, neutral or positive.\\n\\nGreat!"])
```
or from a shell: `sft-course predict path/to/this/folder "your instruction here"`.

## Base model
{describe_base_model(config['base_model'])}, fully fine-tuned on (instruction, answer) chats in its own chat format
(its default system prompt, the instruction as the user's turn, the answer as the assistant's). The loss counted the
answer's tokens only (the prompt had the label -100). `model/` holds the weights and the tokenizer with its chat
template.

## Tasks and data
Tasks: {', '.join(config['tasks'])}; classification answers are the label name. Mixing ratio between the tasks:
{ratio}; share of general instructions mixed in: {config['general_share']:g}.
Instructions were built from the train splits, each phrased with one of the *train* phrasings only. These
held-out phrasings were never trained on; they measure how the model follows instructions it did not see:

| id | task | language | template |
| --- | --- | --- | --- |
{heldout}

{files}

Instructions per split: {', '.join(f"{k} {v:,}" for k, v in config['data']['split_sizes'].items())}. License: MIT.

## Training configuration
{markdown_table(config['hyperparameters'], ('setting', 'value'))}

## Measured results
Validation items, asked with train and with held-out phrasings; `general_probe_accuracy` is the share of 35 general
questions answered right (accepted answer as a whole word).

{markdown_table(config['metrics'], ('metric', 'value'))}

## Limits
- Texts are cut after {config['max_new_tokens']} new tokens.
- {LIMITS[INSTRUCT]}
- A teaching model: do not use it for decisions about people.
"""


def save_instruct(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    folder: str | Path,
    base_model: str,
    hyperparameters: dict[str, Any],
    metrics: dict[str, Any],
    mixing_ratio: dict[str, float],
    general_share: float,
    heldout_phrasings: list[dict[str, str]],
    data_info: dict[str, Any],
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> Path:
    """Save an instruction-tuned causal LM (weights, tokenizer, config) with its model card; return the folder."""
    check_merged(model)
    tasks = list(mixing_ratio)
    config = {"kind": INSTRUCT, "task": INSTRUCT, "base_model": base_model,
              "description": "instructions for " + ", ".join(tasks) + " (and general questions)",
              "hyperparameters": hyperparameters, "metrics": metrics, "data": data_info, "tasks": tasks,
              "mixing_ratio": mixing_ratio, "general_share": general_share, "heldout_phrasings": heldout_phrasings,
              "max_new_tokens": max_new_tokens}
    folder = Path(folder)
    save_pretrained(model, tokenizer, folder / MODEL_FOLDER)
    return write_config_and_card(folder, config, instruct_card(config))


class FineTunedInstruct(SavedModel):
    """A saved instruction-tuned model loaded back, ready to answer instructions."""

    def answer(self, prompts: list[str], max_new_tokens: int | None = None, batch_size: int = 16) -> list[str]:
        """Greedy answers through the chat template, at most `max_new_tokens` (default: the saved limit) each."""
        check_texts(prompts)
        with eval_mode(self.model):
            return generate_replies(self.model, self.tokenizer, prompts, max_new_tokens or self.config["max_new_tokens"],
                                    None, batch_size)


FineTuned = FineTunedClassifier | FineTunedRegressor | FineTunedGenerator | FineTunedInstruct


def load_finetuned(folder: str | Path, device: str | None = None, task: str | None = None) -> FineTuned:
    """Load a model saved by `save_finetuned`, `save_generator` or `save_instruct` (checked to be for `task`, if given)
    on `device`."""
    folder = Path(folder)
    config = check_folder(folder, task)
    if config["kind"] in (GENERATOR, INSTRUCT):
        model, tokenizer = load_causal_lm(str(folder / MODEL_FOLDER))
        loaded = FineTunedGenerator if config["kind"] == GENERATOR else FineTunedInstruct
        return loaded(model.to(choose_device(device)), tokenizer, config)
    backbone, tokenizer = load_encoder(str(folder / BACKBONE_FOLDER))
    model = PretrainedClassifier(backbone, config["num_outputs"], config["pooling"])
    model.head.load_state_dict(torch.load(folder / HEAD_FILE, map_location="cpu", weights_only=True))
    loaded = FineTunedClassifier if config["kind"] == CLASSIFIER else FineTunedRegressor
    return loaded(model.to(choose_device(device)), tokenizer, config)
