"""Time the course's hot paths and write benchmarks/results.md."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from sft_helpers import load_causal_lm, load_encoder, seed_everything
from sft_helpers.features import sentence_embeddings
from sft_helpers.runtime import environment_report

RESULTS = Path(__file__).with_name("results.md")


def timed(action) -> float:
    """Seconds one call of `action` takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    """Run each benchmark once and write a Markdown table."""
    seed_everything(0)
    encoder, tokenizer = load_encoder("minilm")
    sentences = [f"sentence number {i} " + "word " * (i % 40) for i in range(1000)]
    rows = [
        ("load MiniLM", timed(lambda: load_encoder("minilm"))),
        ("load SmolLM2-135M (converted, cached)", timed(lambda: load_causal_lm("smollm2-135m"))),
        ("MiniLM mean-pooled features, 1,000 sentences", timed(lambda: sentence_embeddings(encoder, tokenizer, sentences))),
    ]
    report = environment_report(torch.device("cpu"))
    lines = ["| benchmark | seconds |", "| --- | --- |"] + [f"| {name} | {seconds:.2f} |" for name, seconds in rows]
    header = f"Measured on {report['device']}, {report['cpu threads']} threads, torch {report['torch']}.\n\n"
    RESULTS.write_text(header + "\n".join(lines) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
