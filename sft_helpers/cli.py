"""`sft-course train/predict/evaluate`: the application notebooks' pipeline as a script, on one or many processes."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Sequence

import datasets
import torch
from accelerate import Accelerator
from torch.nn.functional import cross_entropy
from tqdm.auto import tqdm

from sft_helpers import data
from sft_helpers.finetuned import MAX_LENGTH, TASKS, FineTunedFolderError, load_finetuned, save_finetuned, task_data
from sft_helpers.metrics import classification_metrics
from sft_helpers.models import PretrainedClassifier, encoder_classifier, freeze, transformer_blocks
from sft_helpers.pretrained import MissingModelPackageError, UnknownModelError, load_encoder
from sft_helpers.runtime import choose_device, seed_everything
from sft_helpers.train import TrainConfig, evaluate, make_optimizer, make_scheduler, train_loader

REPORT_FILE = "training_report.json"
MULTI_PROCESS = (
    "Several processes, data shared between them: "
    "torchrun --nproc_per_node 2 -m sft_helpers.cli train ... (CPU); "
    "accelerate launch --multi_gpu --num_processes N -m sft_helpers.cli train ... (GPUs)."
)


class CommandError(Exception):
    """Bad input found after argument parsing; printed as a usage error (exit code 2)."""


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number > 0."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def training_splits(task: str, tokenizer: Any, max_examples: int | None) -> datasets.DatasetDict:
    """Tokenised train and validation splits of a task (the first N and N//4 examples when `max_examples` is set)."""
    splits = task_data(task)
    splits = datasets.DatasetDict(train=splits["train"], validation=splits["validation"])
    if max_examples is not None:
        sizes = {"train": max_examples, "validation": max(1, max_examples // 4)}
        splits = datasets.DatasetDict({name: rows.select(range(min(sizes[name], len(rows))))
                                       for name, rows in splits.items()})
    tokens = data.tokenize(splits, tokenizer, "text", max_length=MAX_LENGTH)
    return tokens.select_columns(["input_ids", "attention_mask", "labels"]).with_format("torch")


def build_classifier(model_name: str, num_labels: int, trainable_top_layers: int) -> tuple[PretrainedClassifier, Any]:
    """A pretrained encoder with a fresh head, frozen but for the top layers (-1: nothing frozen), and its tokenizer."""
    encoder, tokenizer = load_encoder(model_name)
    layers = len(transformer_blocks(encoder))
    if not -1 <= trainable_top_layers <= layers:
        raise CommandError(f"--trainable-top-layers must be from 0 to {layers} (the model's layers), "
                           f"or -1 for everything; got {trainable_top_layers}")
    model = freeze(encoder_classifier(encoder, num_labels), trainable_top_layers if trainable_top_layers >= 0 else None)
    pooler = getattr(model.backbone, "pooler", None)
    if pooler is not None:  # mean pooling never uses it: a trainable pooler would get no gradient, which DDP rejects
        pooler.requires_grad_(False)
    return model, tokenizer


def run_epochs(
    accelerator: Accelerator, model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader: Any, epochs: int,
) -> tuple[int, int]:
    """Train for `epochs` on this process's share of the batches (linear lr decay); return (steps, examples)."""
    scheduler = make_scheduler(TrainConfig(scheduler="linear"), optimizer, epochs * len(loader))
    steps, examples = 0, 0
    with tqdm(total=epochs * len(loader), desc="training", unit="step", disable=not accelerator.is_main_process) as bar:
        for _ in range(epochs):
            model.train()
            for batch in loader:
                labels = batch.pop("labels")
                loss = cross_entropy(model(**batch), labels)
                optimizer.zero_grad(set_to_none=True)
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                steps, examples = steps + 1, examples + len(labels)
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    return steps, examples


def train_command(args: argparse.Namespace) -> None:
    """Fine-tune a classifier with Accelerate (one or many processes) and save it with a model card and a report."""
    accelerator = Accelerator(cpu=choose_device().type == "cpu")  # cpu=True is what makes torchrun give MULTI_CPU
    seed_everything(args.seed)  # the same seed on every process: the same fresh head everywhere
    model, tokenizer = build_classifier(args.model, len(TASKS[args.task].labels), args.trainable_top_layers)
    with accelerator.main_process_first():  # one process fills the data cache, the others read it
        tokens = training_splits(args.task, tokenizer, args.max_examples)
    config = TrainConfig(lr=args.lr, batch_size=args.batch_size, epochs=args.epochs, seed=args.seed,
                         group_by_length=True)
    loader = train_loader(tokens["train"], config, data.padding_collator(tokenizer))
    model, optimizer, loader = accelerator.prepare(model, make_optimizer(config, model.parameters()), loader)
    start = time.perf_counter()
    steps, examples = run_epochs(accelerator, model, optimizer, loader, config.epochs)
    seconds = time.perf_counter() - start
    counts = accelerator.gather(torch.tensor([[steps, examples]], device=accelerator.device)).cpu().tolist()
    if accelerator.is_main_process:
        report = {
            "processes": accelerator.num_processes,
            "distributed_type": str(accelerator.distributed_type),
            "steps_per_process": [row[0] for row in counts],
            "examples_per_process": [row[1] for row in counts],
            "seconds": round(seconds, 2),
        }
        finish_training(args, accelerator.unwrap_model(model), tokenizer, tokens, report)
    accelerator.wait_for_everyone()
    accelerator.end_training()


def finish_training(
    args: argparse.Namespace, model: PretrainedClassifier, tokenizer: Any, tokens: datasets.DatasetDict,
    report: dict[str, Any],
) -> None:
    """Validate the trained model, save it with its model card, write the training report and print a summary."""
    result = evaluate(model, tokens["validation"], cross_entropy, classification_metrics,
                      collate_fn=data.padding_collator(tokenizer))
    metrics = {"val_accuracy": result["accuracy"], "val_macro_f1": result["macro_f1"], "val_loss": result["loss"],
               "val_examples": len(tokens["validation"]), "train_examples": len(tokens["train"])}
    hyperparameters = {"epochs": args.epochs, "lr": args.lr, "batch_size_per_process": args.batch_size,
                       "processes": report["processes"], "trainable_top_layers": args.trainable_top_layers,
                       "optimizer": "adamw", "lr_schedule": "linear decay to 0", "max_length": MAX_LENGTH,
                       "max_examples": args.max_examples, "seed": args.seed}
    out = save_finetuned(model, tokenizer, args.out, args.task, list(TASKS[args.task].labels), args.model,
                         hyperparameters, metrics)
    report["val_accuracy"] = result["accuracy"]
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{args.task}: {len(tokens['train'])} training examples, {args.epochs} epoch(s), "
          f"{report['processes']} process(es) ({report['distributed_type']}), trained in {report['seconds']:.1f} s; "
          f"validation accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}. Saved to {out}")


def predict_command(args: argparse.Namespace) -> None:
    """Print the predicted label and its probability for each text."""
    model = load_finetuned(args.folder)
    width = max(map(len, model.labels))
    for text, result in zip(args.texts, model.predict(args.texts)):
        print(f"{result['label']:<{width}}  {result['probabilities'][result['label']]:.3f}  {text}")


def evaluate_command(args: argparse.Namespace) -> None:
    """Print the accuracy and macro-F1 of a saved classifier on the test split of its task."""
    model = load_finetuned(args.folder)
    test = task_data(model.task)["test"]
    scores = classification_metrics(model.probabilities(test["text"]), torch.tensor(test["labels"]))
    print(f"{model.task} test split ({len(test)} examples): "
          f"accuracy {scores['accuracy']:.3f}, macro-F1 {scores['macro_f1']:.3f}")


def build_parser() -> argparse.ArgumentParser:
    """The `sft-course` command line: train, predict and evaluate sub-commands."""
    parser = argparse.ArgumentParser(prog="sft-course", description="Fine-tune, use and evaluate course classifiers.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="fine-tune a classifier and save it to a folder", epilog=MULTI_PROCESS)
    train.add_argument("task", choices=sorted(TASKS), help="sentiment of reviews, or topic of news items")
    train.add_argument("--out", required=True, type=Path, help="folder to save the model, its card and report")
    train.add_argument("--epochs", type=positive_int, default=2, help="passes over the data (default %(default)s)")
    train.add_argument("--lr", type=positive_float, default=1e-4, help="AdamW's learning rate (default %(default)s)")
    train.add_argument("--batch-size", type=positive_int, default=32,
                       help="examples per step and process (default %(default)s)")
    train.add_argument("--trainable-top-layers", type=int, default=2, metavar="K",
                       help="train the head and the top K transformer layers; -1 trains everything (default 2)")
    train.add_argument("--max-examples", type=positive_int, metavar="N",
                       help="use only the first N training and N//4 validation examples (quick runs)")
    train.add_argument("--model", default="minilm", help="packaged short name, local folder or hub id (default minilm)")
    train.add_argument("--seed", type=int, default=0, help="seed of the new head and the shuffling (default 0)")
    train.set_defaults(run=train_command)
    predict = commands.add_parser("predict", help="label texts with a saved classifier")
    predict.add_argument("folder", type=Path)
    predict.add_argument("texts", nargs="+", metavar="text")
    predict.set_defaults(run=predict_command)
    evaluate_parser = commands.add_parser("evaluate", help="accuracy and macro-F1 of a saved model on its test split")
    evaluate_parser.add_argument("folder", type=Path)
    evaluate_parser.set_defaults(run=evaluate_command)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run the `sft-course` command line; bad input exits with code 2 and a one-line message."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (CommandError, FineTunedFolderError, UnknownModelError, MissingModelPackageError) as error:
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")


if __name__ == "__main__":
    main()
