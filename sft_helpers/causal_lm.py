"""Causal language models for SFT on a generation task: chat prompts, loss masking, generation, cheaper variants.

Used in lessons: 00, 09, 10, 11
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import re
import resource
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import datasets
import pandas as pd
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sft_helpers.features import cache_hidden, padding_mask, run_blocks
from sft_helpers.metrics import generation_scores
from sft_helpers.models import trainable_summary, transformer_blocks
from sft_helpers.recipes import DECODER
from sft_helpers.runtime import choose_device
from sft_helpers.tasks import Task
from sft_helpers.evaluation import eval_mode
from sft_helpers.train import History, TrainConfig, train

IGNORE_INDEX = -100
MAX_NEW_TOKENS = 48
PROC_STATUS = Path("/proc/self/status")
CHINESE = re.compile("[\u4e00-\u9fff]")


def chat_messages(prompt: str, system: str | None = None) -> list[dict[str, str]]:
    """A one-turn chat: an optional system message, then the user's prompt."""
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": prompt}]


@torch.no_grad()
def generate_replies(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_new_tokens: int = MAX_NEW_TOKENS,
    system: str | None = None,
    batch_size: int = 16,
) -> list[str]:
    """Greedy replies to each prompt, through the model's chat template, batched with left padding."""
    device, padding_side = next(model.parameters()).device, tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues from the last position, so padding must come first
    replies = []
    try:
        for start in range(0, len(prompts), batch_size):
            chats = [chat_messages(p, system) for p in prompts[start : start + batch_size]]
            texts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in chats]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            output = model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
            new_tokens = output[:, batch["input_ids"].shape[1] :]
            replies += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = padding_side
    return replies


def task_messages(task: Task, row: dict[str, str]) -> list[dict[str, str]]:
    """The chat that asks a generation task for one row's output: the task's system prompt, then the row's text."""
    return chat_messages(task.text(row), task.instruction)


def prompt_and_completion(
    tokenizer: PreTrainedTokenizerBase, prompt_text: str, answer: str, system: str | None = None
) -> tuple[str, str]:
    """The prompt text up to the assistant's turn, and the completion: the answer, `<|im_end|>` and its newline
    (`system` None: the model's default system prompt)."""
    messages = chat_messages(prompt_text, system)
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": answer}], tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("the chat template renders the prompt differently once the answer is added")
    return prompt, full[len(prompt) :]


def build_sft_example(
    tokenizer: PreTrainedTokenizerBase, prompt_text: str, answer: str, max_length: int = DECODER.max_length,
    system: str | None = None,
) -> dict[str, list[int]]:
    """Token ids of prompt + completion, with labels -100 on every prompt position (truncated to `max_length`)."""
    prompt, completion = prompt_and_completion(tokenizer, prompt_text, answer, system)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    input_ids = (prompt_ids + completion_ids)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + completion_ids)[:max_length]
    return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids), "labels": labels}


def sft_rows(
    tokenizer: PreTrainedTokenizerBase, task: Task, rows: Iterable[dict[str, str]],
    max_length: int = DECODER.max_length,
) -> list[dict[str, list[int]]]:
    """One SFT example per row of a generation task's split: its text as the prompt (with the task's system prompt),
    its target as the answer."""
    return [build_sft_example(tokenizer, task.text(row), row[task.target_column], max_length, task.instruction)
            for row in rows]


def masking_table(tokenizer: PreTrainedTokenizerBase, example: dict[str, list[int]]) -> pd.DataFrame:
    """Each position's token and its label: the token to predict, or -100 where nothing is learned."""
    tokens = [tokenizer.decode([token]) for token in example["input_ids"]]
    labels = [label if label == IGNORE_INDEX else tokenizer.decode([label]) for label in example["labels"]]
    return pd.DataFrame({"token": tokens, "token id": example["input_ids"], "label": labels})


def learned_text(tokenizer: PreTrainedTokenizerBase, labels: Sequence[int]) -> str:
    """The text of the positions that count in the loss (labels other than -100)."""
    return tokenizer.decode([label for label in labels if label != IGNORE_INDEX])


def label_summary(tokenizer: PreTrainedTokenizerBase, labels: Sequence[int]) -> dict[str, int | str]:
    """How many positions an example has, how many are masked, and the text that is learned."""
    masked = sum(label == IGNORE_INDEX for label in labels)
    return {"positions": len(labels), "masked (-100)": masked, "learned": len(labels) - masked,
            "learned text": repr(learned_text(tokenizer, labels))}


def prompt_and_answer_lengths(rows: Sequence[dict[str, list[int]]]) -> pd.DataFrame:
    """Per SFT example, how many positions are masked prompt (-100) and how many are learned (answer + end)."""
    masked = [sum(label == IGNORE_INDEX for label in row["labels"]) for row in rows]
    return pd.DataFrame({"prompt": masked, "answer": [len(row["labels"]) - count for row, count in zip(rows, masked)]})


def pad_right(sequences: Sequence[Sequence[int]], value: int) -> torch.Tensor:
    """A (batch, longest) tensor of the sequences, padded on the right with `value`."""
    longest = max(len(sequence) for sequence in sequences)
    return torch.tensor([list(sequence) + [value] * (longest - len(sequence)) for sequence in sequences])


def sft_collator(tokenizer: PreTrainedTokenizerBase) -> Callable[[list[dict[str, list[int]]]], dict[str, torch.Tensor]]:
    """Collate SFT examples: right-pad input_ids with the pad id, attention_mask with 0 and labels with -100."""
    padding = {"input_ids": tokenizer.pad_token_id, "attention_mask": 0, "labels": IGNORE_INDEX}

    def collate(rows: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        return {key: pad_right([row[key] for row in rows], value) for key, value in padding.items()}

    return collate


def causal_lm_loss(outputs: Any, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy: position t's logits predict label t+1; -100 labels are ignored."""
    logits = getattr(outputs, "logits", outputs)
    shifted_logits, shifted_labels = logits[:, :-1], labels[:, 1:]
    return F.cross_entropy(
        shifted_logits.reshape(-1, shifted_logits.shape[-1]).float(), shifted_labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
    )


def generate_outputs(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    task: Task,
    texts: list[str],
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = 16,
) -> list[str]:
    """Greedy outputs of a generation task for its input texts, each asked with the task's system prompt."""
    with eval_mode(model):
        return generate_replies(model, tokenizer, texts, max_new_tokens, task.instruction, batch_size)


def share_with_chinese(texts: Sequence[str]) -> float:
    """Share of texts that contain at least one Chinese character (a translation should contain none)."""
    return sum(CHINESE.search(text) is not None for text in texts) / len(texts)


def freeze_decoder(model: PreTrainedModel, trainable_top_blocks: int | None) -> PreTrainedModel:
    """Train only the top `trainable_top_blocks` decoder blocks and the final norm (None: everything); embeddings and
    the tied lm_head stay frozen otherwise."""
    blocks = transformer_blocks(model.model)
    if trainable_top_blocks is None:
        return model.requires_grad_(True)
    if not 0 <= trainable_top_blocks <= len(blocks):
        raise ValueError(f"trainable_top_blocks must be between 0 and {len(blocks)} or None, got {trainable_top_blocks}")
    model.requires_grad_(False)
    for block in blocks[len(blocks) - trainable_top_blocks :]:
        block.requires_grad_(True)
    model.model.norm.requires_grad_(trainable_top_blocks > 0)
    return model


class CachedDecoderTop(torch.nn.Module):
    """The top blocks of a causal LM fed with cached activations of its frozen blocks; logits at answer positions only
    (the vocabulary projection is the costliest layer, and the prompt's positions are never learned)."""

    def __init__(self, causal_lm: PreTrainedModel, top_blocks: int):
        super().__init__()
        blocks = transformer_blocks(causal_lm.model)
        self.causal_lm, self.top = causal_lm, list(blocks[len(blocks) - top_blocks :])

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor, answer_at: torch.Tensor,
                **_: torch.Tensor) -> torch.Tensor:
        """Next-token logits at the positions marked in `answer_at`, one row per marked position."""
        backbone = self.causal_lm.model
        hidden = backbone.norm(run_blocks(backbone, self.top, hidden, attention_mask))
        return self.causal_lm.lm_head(hidden[answer_at])


def cache_decoder_activations(model: PreTrainedModel, rows: Sequence[dict[str, Any]], top_blocks: int,
                              batch_size: int = 32) -> list[dict[str, torch.Tensor]]:
    """Per chat (or prompt), the hidden states entering the top `top_blocks` blocks, computed once."""
    blocks = transformer_blocks(model.model)
    return cache_hidden(model.model, list(blocks[: len(blocks) - top_blocks]), rows, batch_size)


def collate_cached_answers(rows: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad cached chats; mark each position whose next token is learned, and give those tokens as flat labels."""
    hidden = torch.nn.utils.rnn.pad_sequence([r["hidden"] for r in rows], batch_first=True)
    labels = pad_right([r["labels"].tolist() for r in rows], IGNORE_INDEX)
    answer_at = torch.zeros_like(labels, dtype=torch.bool)
    answer_at[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return {"hidden": hidden, "attention_mask": padding_mask(torch.tensor([len(r["hidden"]) for r in rows]),
                                                             hidden.shape[1]),
            "answer_at": answer_at, "labels": labels[:, 1:][answer_at[:, :-1]]}


def collate_cached_prompts(rows: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad cached prompts and mark each one's last position, whose logits give the answer's first token."""
    lengths = torch.tensor([len(r["hidden"]) for r in rows])
    hidden = torch.nn.utils.rnn.pad_sequence([r["hidden"] for r in rows], batch_first=True)
    answer_at = torch.zeros(hidden.shape[:2], dtype=torch.bool)
    answer_at[torch.arange(len(rows)), lengths - 1] = True
    return {"hidden": hidden, "attention_mask": padding_mask(lengths, hidden.shape[1]), "answer_at": answer_at}


def answer_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the answer tokens (logits and labels already picked at the answer positions)."""
    return F.cross_entropy(logits.float(), labels)


def add_lora(
    model: PreTrainedModel, r: int = 8, target_modules: Sequence[str] = ("q_proj", "v_proj"), alpha: int = 16
) -> PreTrainedModel:
    """Wrap the model with PEFT LoRA adapters of rank `r` on `target_modules`; only the adapters train."""
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, target_modules=list(target_modules),
                        task_type="CAUSAL_LM")
    with warnings.catch_warnings():  # PEFT 0.21 calls a transformers method that transformers 5 renamed
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
        return get_peft_model(model, config)


def conversational_dataset(task: Task, rows: Iterable[dict[str, str]]) -> datasets.Dataset:
    """A generation task's rows as TRL's conversational prompt/completion dataset (system + user prompt, assistant
    completion)."""
    rows = list(rows)
    return datasets.Dataset.from_dict({
        "prompt": [task_messages(task, row) for row in rows],
        "completion": [[{"role": "assistant", "content": row[task.target_column]}] for row in rows],
    })


def resident_megabytes(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS now, VmHWM peak) in MB."""
    return int(re.search(rf"{field}:\s+(\d+)", PROC_STATUS.read_text()).group(1)) / 1024


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc), so resident memory counts live data only."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def max_rss_megabytes() -> float:
    """The process's peak resident memory so far, in MB (getrusage counts KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


@contextlib.contextmanager
def peak_memory(device: torch.device) -> Iterator[dict[str, float]]:
    """Peak memory (MB) added inside the block: CUDA allocator peak on a GPU, else the resident-set peak."""
    result: dict[str, float] = {}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        yield result
        result["peak_mb"] = (torch.cuda.max_memory_allocated(device) - start) / 2**20
    elif PROC_STATUS.exists():  # Linux: reset the peak, so that earlier, larger runs do not hide this one
        release_freed_memory()
        Path("/proc/self/clear_refs").write_text("5")
        start = resident_megabytes("VmRSS")
        yield result
        result["peak_mb"] = resident_megabytes("VmHWM") - start
    else:  # elsewhere the peak cannot be reset: this is zero unless the block exceeds every earlier peak
        start = max_rss_megabytes()
        yield result
        result["peak_mb"] = max_rss_megabytes() - start


@dataclass
class TranslatorRun:
    """A fine-tuning run of a causal LM: its history, seconds per step and the peak memory training added."""

    history: History
    seconds_per_step: float
    peak_mb: float


def train_translator(
    model: PreTrainedModel, rows: list[dict[str, list[int]]], config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase, device: torch.device | None = None,
) -> TranslatorRun:
    """Fine-tune on SFT rows with the course loop (masked next-token loss), measuring time per step and memory."""
    device = device or choose_device()
    with peak_memory(device) as memory:
        history = train(model, rows, config, causal_lm_loss, collate_fn=sft_collator(tokenizer), device=device)
    steps = len(history.steps) / len(history.epochs)
    return TranslatorRun(history, history.seconds_per_epoch() / steps, memory["peak_mb"])


def comparison_row(
    model: torch.nn.Module, run: TranslatorRun, task: Task, hypotheses: list[str], references: list[str]
) -> dict[str, float]:
    """One fine-tuned variant's trainable parameters, seconds per step, peak memory and the task's scores."""
    cost = {"seconds per step": run.seconds_per_step, "peak memory (MB)": run.peak_mb}
    return trainable_summary(model) | cost | generation_scores(task, hypotheses, references)
