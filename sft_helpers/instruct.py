"""Instruction SFT: one chat model for several tasks. Instruction data from the course's tasks (train phrasings only),
answers parsed against a label set, scores of generated answers, and the forgetting probe.

Used in lesson 10 and by `sft-course train instruct`.
"""
from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from sklearn.metrics import f1_score
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sft_helpers import data
from sft_helpers.causal_lm import (
    IGNORE_INDEX, MAX_NEW_TOKENS, build_sft_example, causal_lm_loss, generate_replies, sft_collator, translation_scores,
)
from sft_helpers.models import decoder_classifier
from sft_helpers.tasks import CLASSIFICATION, COURSE_TASKS, DATA_ROOT
from sft_helpers.train import History, TrainConfig, eval_mode, train

INSTRUCTIONS = DATA_ROOT / "instructions"
PHRASINGS_FILE, GENERAL_EVAL_FILE, GENERAL_TRAIN_FILE = (
    INSTRUCTIONS / "phrasings.csv", INSTRUCTIONS / "general_eval.csv", INSTRUCTIONS / "general_train.csv")
TASKS = ("news", "sentiment", "translation")
GENERAL = "general"
INSTRUCT_TASK = "instruct"  # the name `sft-course train` knows the recipe by
GENERAL_SHARE = 0.25  # share of general instructions the recipe mixes in (lesson 10 measures why)
MIXING_RATIO = {"news": 1.0, "sentiment": 1.0, "translation": 1.0}  # equal shares of the task instructions
TRAIN, HELDOUT = "train", "heldout"  # the two kinds of phrasing: trained on, and only ever used to evaluate
MAX_LENGTH = 256  # tokens of one chat (default system prompt + instruction + answer); no course item is longer
LABEL_TOKENS = 6  # new tokens to generate for a label answer ("Sci/Tech" + end of turn fits)
PROBE_TOKENS = 24  # new tokens for a forgetting-probe answer
TRANSLATION_TOKENS = 40  # new tokens for a translation (the longest English answer of the course is shorter)
INVALID = "(invalid)"  # what an answer that names no label of the set is scored as
CONFIG = TrainConfig(optimizer="adamw", lr=1e-4, batch_size=4, epochs=2, scheduler="linear", warmup_steps=2,
                     group_by_length=True, eval_every=6, patience=1)  # the recipe of lesson 10 and the CLI
TRAIN_SIZE = 36  # instructions per epoch in the recipe: 9 steps of 4 (a CPU budget; see lesson 10 for more)


@dataclass(frozen=True)
class Phrasing:
    """One way of asking for a task: a template with `{input}` exactly once."""

    id: str
    task: str
    language: str
    split: str  # TRAIN or HELDOUT
    template: str

    def fill(self, text: str) -> str:
        """The instruction for one input text."""
        return self.template.format(input=text)


@dataclass(frozen=True)
class Instruction:
    """One (instruction, answer) pair, with the task and the phrasing it came from ("" for general data)."""

    task: str
    phrasing: str
    prompt: str
    answer: str
    source: str = ""  # the id of the row it was made from


def load_phrasings(path: Path = PHRASINGS_FILE) -> list[Phrasing]:
    """Every phrasing of the course's instruction data."""
    return [Phrasing(**row) for row in data.read_rows(path, ["id", "task", "language", "split", "template"])]


def select_phrasings(phrasings: Sequence[Phrasing], task: str, split: str) -> list[Phrasing]:
    """The phrasings of one task and one split (TRAIN or HELDOUT)."""
    if split not in (TRAIN, HELDOUT):
        raise ValueError(f"phrasing split must be {TRAIN!r} or {HELDOUT!r}, got {split!r}")
    return [p for p in phrasings if p.task == task and p.split == split]


def task_instructions(task: str, rows: Sequence[dict[str, str]], phrasings: Sequence[Phrasing],
                      seed: int = 0) -> list[Instruction]:
    """Each row as an instruction: the phrasings are dealt out in turn over the rows in a seeded random order."""
    course = COURSE_TASKS[task]
    order = random.Random(seed).sample(range(len(rows)), len(rows))
    dealt = {row: phrasings[turn % len(phrasings)] for turn, row in enumerate(order)}
    return [Instruction(task, dealt[i].id, dealt[i].fill(course.text(row)), row[course.target_column], row["id"])
            for i, row in enumerate(rows)]


def general_instructions(path: Path = GENERAL_TRAIN_FILE) -> list[Instruction]:
    """The course's general instruction pairs (facts, arithmetic, rewriting, ...) for mixing into SFT."""
    return [Instruction(GENERAL, "", row["instruction"], row["answer"], row["id"])
            for row in data.read_rows(path, ["id", "instruction", "answer"])]


def shares(total: int, ratio: dict[str, float]) -> dict[str, int]:
    """`total` split by `ratio` into whole counts that add up to `total` (largest remainders)."""
    weights = {name: weight / sum(ratio.values()) * total for name, weight in ratio.items()}
    counts = {name: int(weight) for name, weight in weights.items()}
    for name in sorted(weights, key=lambda n: counts[n] - weights[n])[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def mix(pools: dict[str, Sequence[Instruction]], counts: dict[str, int], seed: int = 0) -> list[Instruction]:
    """`counts[name]` instructions drawn without replacement from each pool, shuffled together."""
    rng = random.Random(seed)
    for name, count in counts.items():
        if count > len(pools[name]):
            raise ValueError(f"asked for {count} {name} instructions, but only {len(pools[name])} exist")
    mixed = [item for name, count in counts.items() for item in rng.sample(list(pools[name]), count)]
    return rng.sample(mixed, len(mixed))


def instruction_set(split: str, size: int, ratio: dict[str, float] = MIXING_RATIO, general_share: float = 0.0,
                    phrasing_split: str = TRAIN, seed: int = 0) -> list[Instruction]:
    """`size` instructions from one data split of the course's tasks, mixed by `ratio`; `general_share` of them are
    general instructions. Training data ("train" split) is only ever phrased with the TRAIN phrasings."""
    if split == "train" and phrasing_split != TRAIN:
        raise ValueError("held-out phrasings are for evaluation only; training data uses the train phrasings")
    if not 0 <= general_share < 1:
        raise ValueError(f"general_share must be >= 0 and < 1, got {general_share}")
    phrasings = load_phrasings()
    pools: dict[str, Sequence[Instruction]] = {
        task: task_instructions(task, data.load_course_data(COURSE_TASKS[task].files[split].parent.name)[split],
                                select_phrasings(phrasings, task, phrasing_split), seed)
        for task in ratio}
    general = round(size * general_share)
    counts = shares(size - general, ratio)
    if general:
        pools, counts = pools | {GENERAL: general_instructions()}, counts | {GENERAL: general}
    return mix(pools, counts, seed)


def instruction_rows(tokenizer: PreTrainedTokenizerBase, items: Sequence[Instruction],
                     max_length: int = MAX_LENGTH) -> list[dict[str, list[int]]]:
    """SFT examples in the model's own chat format (its default system prompt): prompt positions labelled -100."""
    rows = [build_sft_example(tokenizer, item.prompt, item.answer, max_length + 1, system=None) for item in items]
    too_long = [item.prompt[:60] for item, row in zip(items, rows) if len(row["input_ids"]) > max_length]
    if too_long:
        raise ValueError(f"{len(too_long)} instruction(s) longer than {max_length} tokens, e.g. {too_long[0]!r}")
    return rows


def answer_share(rows: Sequence[dict[str, list[int]]]) -> float:
    """The share of all positions that are learned (labels other than -100)."""
    learned = sum(label != IGNORE_INDEX for row in rows for label in row["labels"])
    return learned / sum(len(row["labels"]) for row in rows)


@dataclass
class InstructRun:
    """One instruction-tuning run: its history (step-level validation loss) and its training seconds."""

    history: History
    seconds: float


def train_instruct(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, train_items: Sequence[Instruction],
                   validation_items: Sequence[Instruction], config: TrainConfig = CONFIG,
                   device: torch.device | str | None = None, accelerator: Any = None) -> InstructRun:
    """Fine-tune on instructions with the course loop: loss on the answers only, validation loss every
    `config.eval_every` steps, early stopping on the epoch's validation loss (best weights kept)."""
    train_rows, validation_rows = instruction_rows(tokenizer, train_items), instruction_rows(tokenizer, validation_items)
    start = time.perf_counter()
    history = train(model, train_rows, config, causal_lm_loss, validation_rows, collate_fn=sft_collator(tokenizer),
                    device=device, accelerator=accelerator)
    return InstructRun(history, time.perf_counter() - start)


def answer(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str],
           max_new_tokens: int = MAX_NEW_TOKENS, batch_size: int = 16) -> list[str]:
    """Greedy answers to instructions, through the chat template with the model's default system prompt."""
    with eval_mode(model):
        return generate_replies(model, tokenizer, prompts, max_new_tokens, None, batch_size)


def answer_limit(task: str) -> int:
    """How many new tokens an answer to a task's instruction may take: a label, a translation, a general answer."""
    if task == GENERAL:
        return PROBE_TOKENS
    return LABEL_TOKENS if COURSE_TASKS[task].kind == CLASSIFICATION else TRANSLATION_TOKENS


def answer_items(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, items: Sequence[Instruction],
                 batch_size: int = 48) -> list[str]:
    """Greedy answers to instructions of one task, with that task's length limit."""
    if len({item.task for item in items}) != 1:
        raise ValueError("answer the instructions of one task at a time (each task has its own length limit)")
    return answer(model, tokenizer, [item.prompt for item in items], answer_limit(items[0].task), batch_size)


@torch.no_grad()
def last_token_features(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
                        batch_size: int = 32) -> np.ndarray:
    """The decoder's final hidden state at each text's last token (what a GPT-style head reads), one row per text."""
    classifier = decoder_classifier(model, 1)
    rows = []
    with eval_mode(model):
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(list(texts[start : start + batch_size]), padding=True, return_tensors="pt")
            hidden = model.model(**batch.to(model.device)).last_hidden_state
            rows.append(classifier.pool(hidden, batch["attention_mask"]).float().cpu().numpy())
    return np.concatenate(rows)


def normalise(text: str) -> str:
    """Lower case, every run of punctuation and spaces as one space (letters, digits and CJK kept)."""
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def word_position(text: str, phrase: str) -> int:
    """Where `phrase` first occurs in `text` as whole word(s), both normalised; -1 if it does not."""
    return f" {normalise(text)} ".find(f" {normalise(phrase)} ")


def parse_label(reply: str, labels: Sequence[str]) -> str | None:
    """The label a reply names first, as a whole word in any case ("Sci/Tech" also as "sci tech"); None if none."""
    found = {label: word_position(reply, label) for label in labels}
    named = {label: position for label, position in found.items() if position >= 0}
    return min(named, key=named.get) if named else None


def parse_labels(replies: Sequence[str], labels: Sequence[str]) -> list[str]:
    """Each reply's label, INVALID where it names none of the labels."""
    return [parse_label(reply, labels) or INVALID for reply in replies]


def invalid_rate(parsed: Sequence[str]) -> float:
    """The share of answers that named no label."""
    return sum(label == INVALID for label in parsed) / len(parsed)


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of parsed answers equal to the true label (invalid answers count as wrong); a `stats` score."""
    return float(np.mean(np.asarray(truth) == np.asarray(predicted)))


def macro_f1(labels: Sequence[str]) -> Callable[[Sequence[str], Sequence[str]], float]:
    """A `stats` score: F1 averaged over `labels` (an invalid answer is a miss of its true class)."""
    return lambda truth, predicted: float(f1_score(list(truth), list(predicted), labels=list(labels), average="macro",
                                                   zero_division=0))


def classification_scores(truth: Sequence[str], parsed: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """Accuracy, macro-F1 and invalid-answer rate of parsed answers."""
    return {"accuracy": accuracy(truth, parsed), "macro_f1": macro_f1(labels)(truth, parsed),
            "invalid_rate": invalid_rate(parsed)}


def load_probe(path: Path = GENERAL_EVAL_FILE) -> list[dict[str, Any]]:
    """The forgetting probe: general questions, each with its accepted answers."""
    return [row | {"answers": row["answers"].split("|")}
            for row in data.read_rows(path, ["id", "instruction", "answers", "kind"])]


def probe_correct(reply: str, accepted: Sequence[str]) -> bool:
    """Whether an accepted answer occurs as a whole word (or words) in the normalised reply."""
    return any(word_position(reply, answer_) >= 0 for answer_ in accepted)


def probe_results(replies: Sequence[str], probe: Sequence[dict[str, Any]]) -> np.ndarray:
    """Per probe question, whether the reply was right (a boolean array)."""
    return np.array([probe_correct(reply, item["answers"]) for reply, item in zip(replies, probe)])


def evaluate_instruct(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, split: str, per_task: int,
                      seed: int = 0) -> dict[str, float]:
    """Scores of generated answers on `per_task` items of each task, asked with train and with held-out phrasings
    (accuracy and invalid rate, or chrF and BLEU), and the forgetting probe's accuracy."""
    scores: dict[str, float] = {}
    for phrasing_split in (TRAIN, HELDOUT):
        for task in TASKS:
            items = instruction_set(split, per_task, {task: 1.0}, phrasing_split=phrasing_split, seed=seed)
            truth = [item.answer for item in items]
            course = COURSE_TASKS[task]
            replies = answer_items(model, tokenizer, items)
            if course.kind == CLASSIFICATION:
                found = classification_scores(truth, parse_labels(replies, course.labels), course.labels)
                found = {key: found[key] for key in ("accuracy", "invalid_rate")}
            else:
                found = translation_scores(replies, truth)
            scores |= {f"{split}_{task}_{key}_{phrasing_split}_phrasings": value for key, value in found.items()}
    probe = load_probe()
    replies = answer(model, tokenizer, [item["instruction"] for item in probe], PROBE_TOKENS)
    return scores | {"general_probe_accuracy": float(probe_results(replies, probe).mean())}
