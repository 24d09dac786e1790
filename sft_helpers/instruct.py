"""Instruction SFT: one chat model for several tasks. Instruction data from the course's tasks (train phrasings only),
answers parsed against a label set, scores of generated answers, and the forgetting probe.

Used in lessons: 10, 11 (and by `sft-course train instruct`)
"""
from __future__ import annotations

import math
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
    IGNORE_INDEX, MAX_NEW_TOKENS, CachedDecoderTop, answer_token_loss, build_sft_example, cache_decoder_activations,
    causal_lm_loss, chat_messages, collate_cached_answers, collate_cached_prompts, freeze_decoder, generate_replies,
    sft_collator,
)
from sft_helpers.metrics import generation_scores
from sft_helpers.models import transformer_blocks
from sft_helpers.recipes import INSTRUCT, MIXING_RATIO
from sft_helpers.stats import paired_interval
from sft_helpers.tasks import CLASSIFICATION, COURSE_TASKS, DATA_ROOT, Task
from sft_helpers.evaluation import eval_mode
from sft_helpers.train import History, TrainConfig, train

INSTRUCTIONS = DATA_ROOT / "instructions"
PHRASINGS_FILE, GENERAL_EVAL_FILE, GENERAL_TRAIN_FILE = (
    INSTRUCTIONS / "phrasings.csv", INSTRUCTIONS / "general_eval.csv", INSTRUCTIONS / "general_train.csv")
TASKS = tuple(MIXING_RATIO)  # the course tasks the recipe mixes (entries of COURSE_TASKS), in its order
GENERAL = "general"
TRAIN, HELDOUT = "train", "heldout"  # the two kinds of phrasing: trained on, and only ever used to evaluate
PROBE_TOKENS = 24  # new tokens for a forgetting-probe answer
INVALID = "(invalid)"  # what an answer that names no label of the set is scored as


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


def task_instructions(task: Task, rows: Sequence[dict[str, str]], phrasings: Sequence[Phrasing],
                      seed: int = 0) -> list[Instruction]:
    """Each row as an instruction: the phrasings are dealt out in turn over the rows in a seeded random order."""
    order = random.Random(seed).sample(range(len(rows)), len(rows))
    dealt = {row: phrasings[turn % len(phrasings)] for turn, row in enumerate(order)}
    return [Instruction(task.name, dealt[i].id, dealt[i].fill(task.text(row)), row[task.target_column], row["id"])
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
        name: task_instructions(COURSE_TASKS[name], data.course_task_splits(COURSE_TASKS[name])[split],
                                select_phrasings(phrasings, name, phrasing_split), seed)
        for name in ratio}
    general = round(size * general_share)
    counts = shares(size - general, ratio)
    if general:  # the general pairs are repeated when the share asks for more than there are
        repeated = list(general_instructions()) * math.ceil(general / len(general_instructions()))
        pools, counts = pools | {GENERAL: repeated}, counts | {GENERAL: general}
    return mix(pools, counts, seed)


def instruction_rows(tokenizer: PreTrainedTokenizerBase, items: Sequence[Instruction],
                     max_length: int = INSTRUCT.max_length) -> list[dict[str, list[int]]]:
    """SFT examples in the model's own chat format (its default system prompt): prompt positions labelled -100."""
    rows = [build_sft_example(tokenizer, item.prompt, item.answer, max_length + 1, system=None) for item in items]
    too_long = [item.prompt[:60] for item, row in zip(items, rows) if len(row["input_ids"]) > max_length]
    if too_long:
        raise ValueError(f"{len(too_long)} instruction(s) longer than {max_length} tokens, e.g. {too_long[0]!r}")
    return rows


def prompt_rows(tokenizer: PreTrainedTokenizerBase, items: Sequence[Instruction]) -> list[dict[str, list[int]]]:
    """Token ids of each instruction's chat up to the assistant's turn: what an answer continues."""
    texts = [tokenizer.apply_chat_template(chat_messages(item.prompt), add_generation_prompt=True, tokenize=False)
             for item in items]
    return [{"input_ids": tokenizer(text, add_special_tokens=False)["input_ids"]} for text in texts]


def label_first_tokens(tokenizer: PreTrainedTokenizerBase, labels: Sequence[str]) -> list[int]:
    """The first token of each label as an answer starts; they must all differ for the first token to decide."""
    firsts = [tokenizer(label, add_special_tokens=False)["input_ids"][0] for label in labels]
    if len(set(firsts)) != len(firsts):
        raise ValueError(f"labels {list(labels)} share a first token: score whole labels instead")
    return firsts


@torch.no_grad()
def label_log_probs(top: CachedDecoderTop, cached_prompts: Sequence[dict[str, torch.Tensor]],
                    first_tokens: Sequence[int], batch_size: int = 64) -> np.ndarray:
    """Per prompt, the log-probability of each label's first token as the answer's first token (one row each)."""
    device, rows = next(top.parameters()).device, []
    with eval_mode(top):
        for start in range(0, len(cached_prompts), batch_size):
            batch = collate_cached_prompts(list(cached_prompts[start : start + batch_size]))
            logits = top(**{key: value.to(device) for key, value in batch.items()})
            rows.append(torch.log_softmax(logits.float(), dim=-1)[:, list(first_tokens)].cpu().numpy())
    return np.concatenate(rows)


def likeliest_labels(log_probs: np.ndarray, labels: Sequence[str]) -> list[str]:
    """Each prompt's answer scored by likelihood: the label whose first token is the most probable."""
    return [labels[i] for i in log_probs.argmax(axis=1)]


def answer_share(rows: Sequence[dict[str, list[int]]]) -> float:
    """The share of all positions that are learned (labels other than -100)."""
    learned = sum(label != IGNORE_INDEX for row in rows for label in row["labels"])
    return learned / sum(len(row["labels"]) for row in rows)


@dataclass
class InstructRun:
    """One instruction-tuning run: its history, its training seconds and the seconds spent caching frozen blocks."""

    history: History
    seconds: float
    cache_seconds: float = 0.0


def train_instruct(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, train_items: Sequence[Instruction],
                   validation_items: Sequence[Instruction], config: TrainConfig = INSTRUCT.config,
                   top_blocks: int | None = INSTRUCT.trainable_top_layers,
                   device: torch.device | str | None = None, accelerator: Any = None) -> InstructRun:
    """Fine-tune on instructions with the course loop, loss on the answers only: the top `top_blocks` blocks on
    activations of the frozen ones cached once (None: every parameter, through the whole model each step)."""
    train_rows, validation_rows = instruction_rows(tokenizer, train_items), instruction_rows(tokenizer, validation_items)
    if top_blocks is None:
        start = time.perf_counter()
        history = train(model.requires_grad_(True), train_rows, config, causal_lm_loss, validation_rows,
                        collate_fn=sft_collator(tokenizer), device=device, accelerator=accelerator)
        return InstructRun(history, time.perf_counter() - start)
    start = time.perf_counter()
    train_cache, validation_cache = (cache_decoder_activations(model, rows, top_blocks)
                                     for rows in (train_rows, validation_rows))
    cached = time.perf_counter()
    history = train_cached_top(model, train_cache, validation_cache, config, top_blocks, device, accelerator)
    return InstructRun(history, time.perf_counter() - cached, cached - start)


def train_cached_top(model: PreTrainedModel, train_cache: Sequence[dict[str, torch.Tensor]],
                     validation_cache: Sequence[dict[str, torch.Tensor]] | None, config: TrainConfig, top_blocks: int,
                     device: torch.device | str | None = None, accelerator: Any = None) -> History:
    """The course loop on the top `top_blocks` blocks (the rest frozen), fed with cached chats; loss on answers only."""
    top = CachedDecoderTop(freeze_decoder(model, top_blocks), top_blocks)
    return train(top, train_cache, config, answer_token_loss, validation_cache, collate_fn=collate_cached_answers,
                 device=device, accelerator=accelerator)


def answer(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: list[str],
           max_new_tokens: int = MAX_NEW_TOKENS, batch_size: int = 16) -> list[str]:
    """Greedy answers to instructions, through the chat template with the model's default system prompt."""
    with eval_mode(model):
        return generate_replies(model, tokenizer, prompts, max_new_tokens, None, batch_size)


def answer_limit(task: str) -> int:
    """How many new tokens an answer to a task's instruction may take: the task's `answer_tokens`, or a general
    answer's."""
    return PROBE_TOKENS if task == GENERAL else COURSE_TASKS[task].answer_tokens


def answer_items(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, items: Sequence[Instruction],
                 batch_size: int = 48) -> list[str]:
    """Greedy answers to instructions of one task, with that task's length limit."""
    if len({item.task for item in items}) != 1:
        raise ValueError("answer the instructions of one task at a time (each task has its own length limit)")
    return answer(model, tokenizer, [item.prompt for item in items], answer_limit(items[0].task), batch_size)


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


def likelihood_answers(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, items: Sequence[Instruction],
                       labels: Sequence[str]) -> list[str]:
    """Each instruction answered by likelihood: the label whose first token the whole model finds most probable."""
    blocks = len(transformer_blocks(model.model))
    embedded = cache_decoder_activations(model, prompt_rows(tokenizer, items), blocks)  # no frozen block: embeddings
    log_probs = label_log_probs(CachedDecoderTop(model, blocks), embedded, label_first_tokens(tokenizer, labels))
    return likeliest_labels(log_probs, labels)


def split_size(task: str, split: str) -> int:
    """How many rows one split of a course task has."""
    return len(data.course_task_splits(COURSE_TASKS[task])[split])


def task_scores(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, items: Sequence[Instruction]
                ) -> tuple[dict[str, float], list[str]]:
    """Scores of one task's items (generated and, for labels, likelihood-scored answers), and the answers scored."""
    course, truth = COURSE_TASKS[items[0].task], [item.answer for item in items]
    replies = answer_items(model, tokenizer, items)
    if course.kind != CLASSIFICATION:
        return generation_scores(course, replies, truth), replies
    generated = classification_scores(truth, parse_labels(replies, course.labels), course.labels)
    scored = likelihood_answers(model, tokenizer, items, course.labels)
    return {"accuracy": generated["accuracy"], "invalid_rate": generated["invalid_rate"],
            "likelihood_accuracy": accuracy(truth, scored)}, scored


def evaluate_instruct(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, split: str,
                      per_task: int | None = None, seed: int = 0) -> dict[str, float]:
    """Scores on `per_task` items of each task (None: the whole split), asked with train and with held-out phrasings;
    for labels, held-out minus train accuracy (likelihood) on the same items with its paired 95% interval; and the
    forgetting probe's accuracy."""
    scores: dict[str, float] = {}
    for task in TASKS:
        answers = {}
        for phrasing_split in (TRAIN, HELDOUT):
            items = instruction_set(split, per_task or split_size(task, split), {task: 1.0},
                                    phrasing_split=phrasing_split, seed=seed)
            found, answers[phrasing_split] = task_scores(model, tokenizer, items)
            scores |= {f"{split}_{task}_{key}_{phrasing_split}_phrasings": value for key, value in found.items()}
        if COURSE_TASKS[task].kind == CLASSIFICATION:
            gap = paired_interval([item.answer for item in items], answers[HELDOUT], answers[TRAIN], accuracy)
            scores |= {f"{split}_{task}_heldout_minus_train_{key}": getattr(gap, key) for key in ("estimate", "low", "high")}
    probe = load_probe()
    replies = answer(model, tokenizer, [item["instruction"] for item in probe], PROBE_TOKENS)
    return scores | {"general_probe_accuracy": float(probe_results(replies, probe).mean())}
