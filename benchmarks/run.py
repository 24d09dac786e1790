"""Time the course's hot paths and write benchmarks/results.md."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch

from sft_helpers import instruct, load_causal_lm, load_encoder, recipes, seed_everything
from sft_helpers.causal_lm import generate_outputs, sft_rows, train_translator
from sft_helpers.data import load_course_data
from sft_helpers.features import sentence_embeddings
from sft_helpers.runtime import environment_report
from sft_helpers.tasks import COURSE_TASKS
from sft_helpers.train import TrainConfig

RESULTS = Path(__file__).with_name("results.md")


def timed(action) -> float:
    """Seconds one call of `action` takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def translation_rows() -> list[tuple[str, float]]:
    """Lesson 09's hot paths: seconds per full fine-tuning step of SmolLM2, and greedy translation of 48 sentences."""
    model, tokenizer = load_causal_lm("smollm2-135m")
    pairs, translation = load_course_data("translation"), COURSE_TASKS["translation"]
    config = TrainConfig(optimizer="adamw", lr=1e-4, batch_size=8, epochs=1, group_by_length=True)
    run = train_translator(model, sft_rows(tokenizer, translation, pairs["train"].select(range(40))), config, tokenizer)
    sources = list(pairs["test"]["zh"][:48])
    return [
        ("SmolLM2 full fine-tuning, one step of 8 translation pairs", run.seconds_per_step),
        ("SmolLM2 greedy translation of 48 sentences (after 5 steps)",
         timed(lambda: generate_outputs(model, tokenizer, translation, sources))),
    ]


def instruct_rows() -> list[tuple[str, float]]:
    """Lessons 10-11's hot paths: caching the frozen blocks once per chat, and a step of the top blocks on 8 chats."""
    model, tokenizer = load_causal_lm("smollm2-135m")
    items = instruct.instruction_set("train", 64, seed=0)
    run = instruct.train_instruct(model, tokenizer, items[8:], items[:8], replace(recipes.INSTRUCT.config, epochs=1, warmup_steps=0))
    return [
        ("instruction SFT: caching the frozen blocks, per chat", run.cache_seconds / len(items)),
        ("instruction SFT: one step of the top 4 blocks on 8 cached chats", run.seconds / len(run.history.steps)),
    ]


def main() -> None:
    """Run each benchmark once and write a Markdown table."""
    seed_everything(0)
    encoder, tokenizer = load_encoder("minilm")
    sentences = [f"sentence number {i} " + "word " * (i % 40) for i in range(1000)]
    rows = [
        ("load MiniLM", timed(lambda: load_encoder("minilm"))),
        ("load SmolLM2-135M (converted, cached)", timed(lambda: load_causal_lm("smollm2-135m"))),
        ("MiniLM mean-pooled features, 1,000 sentences", timed(lambda: sentence_embeddings(encoder, tokenizer, sentences))),
        *translation_rows(),
        *instruct_rows(),
    ]
    report = environment_report(torch.device("cpu"))
    lines = ["| benchmark | seconds |", "| --- | --- |"] + [f"| {name} | {seconds:.2f} |" for name, seconds in rows]
    header = f"Measured on {report['device']}, {report['cpu threads']} threads, torch {report['torch']}.\n\n"
    RESULTS.write_text(header + "\n".join(lines) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
