"""`sft-course train/predict/evaluate`: the application lessons' pipelines as a script, on one or many processes."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import datasets
import torch
from accelerate import Accelerator
from torch.nn.functional import cross_entropy
from sft_helpers.progress import progress_bar

from sft_helpers import data
from sft_helpers.causal_lm import causal_lm_loss, freeze_decoder, sft_collator, sft_rows, translate, translation_scores
from sft_helpers.finetuned import (
    CLASSIFIER, MAX_LENGTH, TASKS, TRANSLATION, TRANSLATOR, FineTunedFolderError, FineTunedTranslator, load_finetuned,
    save_finetuned, save_translator, task_data,
)
from sft_helpers.metrics import classification_metrics
from sft_helpers.models import PretrainedClassifier, encoder_classifier, freeze, transformer_blocks
from sft_helpers.pretrained import MissingModelPackageError, UnknownModelError, load_causal_lm, load_encoder
from sft_helpers.runtime import choose_device, seed_everything
from sft_helpers.train import TrainConfig, evaluate, make_optimizer, make_scheduler, train_loader

REPORT_FILE = "training_report.json"
MULTI_PROCESS = (
    "Several processes, data shared between them: "
    "torchrun --nproc_per_node 2 -m sft_helpers.cli train ... (CPU); "
    "accelerate launch --multi_gpu --num_processes N -m sft_helpers.cli train ... (GPUs)."
)


DEFAULTS = {  # per kind of model: the settings of the application lessons
    CLASSIFIER: {"epochs": 2, "lr": 1e-4, "batch_size": 32, "trainable_top_layers": 2, "model": "minilm",
                   "warmup_steps": 0},
    TRANSLATOR: {"epochs": 1, "lr": 1e-4, "batch_size": 8, "trainable_top_layers": -1, "model": "smollm2-135m",
                  "warmup_steps": 5},
}


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


def first_rows(rows: datasets.Dataset, count: int | None) -> datasets.Dataset:
    """The first `count` rows (all of them when `count` is None or larger)."""
    return rows if count is None else rows.select(range(min(count, len(rows))))


def split_sizes(max_examples: int | None) -> dict[str, int | None]:
    """How many train and validation rows a run uses: N and N//4 (at least 1), or all (None)."""
    return {"train": max_examples, "validation": max(1, max_examples // 4) if max_examples else None}


def training_splits(task: str, tokenizer: Any, max_examples: int | None) -> datasets.DatasetDict:
    """Tokenised train and validation splits of a task (the first N and N//4 examples when `max_examples` is set)."""
    splits = task_data(task)
    sizes = split_sizes(max_examples)
    splits = datasets.DatasetDict({name: first_rows(splits[name], size) for name, size in sizes.items()})
    tokens = data.tokenize(splits, tokenizer, "text", max_length=MAX_LENGTH)
    return tokens.select_columns(["input_ids", "attention_mask", "labels"]).with_format("torch")


def check_top_layers(trainable_top_layers: int, layers: int) -> None:
    """A CommandError unless the number of trainable top layers is -1 (everything) or from 0 to `layers`."""
    if not -1 <= trainable_top_layers <= layers:
        raise CommandError(f"--trainable-top-layers must be from 0 to {layers} (the model's layers), "
                           f"or -1 for everything; got {trainable_top_layers}")


def build_classifier(model_name: str, num_labels: int, trainable_top_layers: int) -> tuple[PretrainedClassifier, Any]:
    """A pretrained encoder with a fresh head, frozen but for the top layers (-1: nothing frozen), and its tokenizer."""
    encoder, tokenizer = load_encoder(model_name)
    check_top_layers(trainable_top_layers, len(transformer_blocks(encoder)))
    model = freeze(encoder_classifier(encoder, num_labels), trainable_top_layers if trainable_top_layers >= 0 else None)
    pooler = getattr(model.backbone, "pooler", None)
    if pooler is not None:  # mean pooling never uses it: a trainable pooler would get no gradient, which DDP rejects
        pooler.requires_grad_(False)
    return model, tokenizer


def build_translator(model_name: str, trainable_top_layers: int) -> tuple[torch.nn.Module, Any]:
    """A pretrained causal LM, frozen but for the top decoder blocks (-1: nothing frozen), and its tokenizer."""
    model, tokenizer = load_causal_lm(model_name)
    check_top_layers(trainable_top_layers, len(transformer_blocks(model.model)))
    return (freeze_decoder(model, trainable_top_layers) if trainable_top_layers >= 0 else model), tokenizer


def translation_rows(tokenizer: Any, max_examples: int | None) -> dict[str, list[dict[str, list[int]]]]:
    """SFT rows (prompt masked) of the translation train and validation splits, cut like `training_splits`."""
    splits = data.load_course_data(TRANSLATION)
    sizes = split_sizes(max_examples)
    return {name: sft_rows(tokenizer, first_rows(splits[name], size), MAX_LENGTH) for name, size in sizes.items()}


def run_epochs(
    accelerator: Accelerator, model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader: Any,
    config: TrainConfig, loss_fn: Callable[[Any, torch.Tensor], torch.Tensor],
) -> tuple[int, int]:
    """Train for the configured epochs on this process's share of the batches; return (steps, examples)."""
    epochs = config.epochs
    scheduler = make_scheduler(config, optimizer, epochs * len(loader))
    steps, examples = 0, 0
    with progress_bar(total=epochs * len(loader), desc="training", unit="step", disable=not accelerator.is_main_process) as bar:
        for _ in range(epochs):
            model.train()
            for batch in loader:
                labels = batch.pop("labels")
                loss = loss_fn(model(**batch), labels)
                optimizer.zero_grad(set_to_none=True)
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                steps, examples = steps + 1, examples + len(labels)
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    return steps, examples


def train_command(args: argparse.Namespace) -> None:
    """Fine-tune a model for a task with Accelerate (one or many processes); save it with a model card and a report."""
    accelerator = Accelerator(cpu=choose_device().type == "cpu")  # cpu=True is what makes torchrun give MULTI_CPU
    seed_everything(args.seed)  # the same seed on every process: the same fresh head everywhere
    translation = args.task == TRANSLATION
    with accelerator.main_process_first():  # one process converts the model and fills the data cache
        if translation:
            model, tokenizer = build_translator(args.model, args.trainable_top_layers)
            tokens, collate, loss_fn = translation_rows(tokenizer, args.max_examples), sft_collator(tokenizer), causal_lm_loss
        else:
            model, tokenizer = build_classifier(args.model, len(TASKS[args.task].labels), args.trainable_top_layers)
            tokens, collate, loss_fn = (training_splits(args.task, tokenizer, args.max_examples),
                                        data.padding_collator(tokenizer), cross_entropy)
    config = TrainConfig(lr=args.lr, batch_size=args.batch_size, epochs=args.epochs, seed=args.seed,
                         scheduler="linear", warmup_steps=args.warmup_steps,
                         group_by_length=True)
    loader = train_loader(tokens["train"], config, collate)
    parameters = [p for p in model.parameters() if p.requires_grad]
    model, optimizer, loader = accelerator.prepare(model, make_optimizer(config, parameters), loader)
    start = time.perf_counter()
    steps, examples = run_epochs(accelerator, model, optimizer, loader, config, loss_fn)
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
        finish = finish_translation if translation else finish_training
        finish(args, accelerator.unwrap_model(model), tokenizer, tokens, report)
    accelerator.wait_for_everyone()
    accelerator.end_training()


def task_kind(task: str) -> str:
    """Which kind of model a task trains: a classifier or a translator."""
    return TRANSLATOR if task == TRANSLATION else CLASSIFIER


def hyperparameters(args: argparse.Namespace, report: dict[str, Any]) -> dict[str, Any]:
    """The settings of a training run, for its model card."""
    return {"epochs": args.epochs, "lr": args.lr, "batch_size_per_process": args.batch_size,
            "processes": report["processes"], "trainable_top_layers": args.trainable_top_layers,
            "optimizer": "adamw", "lr_schedule": "linear decay to 0", "max_length": MAX_LENGTH,
            "max_examples": args.max_examples, "seed": args.seed}


def write_report(out: Path, report: dict[str, Any]) -> None:
    """Write the training report (processes, steps, examples, seconds, validation score) next to the model."""
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def finish_translation(
    args: argparse.Namespace, model: torch.nn.Module, tokenizer: Any, rows: dict[str, list[dict[str, list[int]]]],
    report: dict[str, Any],
) -> None:
    """Score the trained translator and the base model on the validation split, save with a card, print a summary."""
    validation = first_rows(data.load_course_data(TRANSLATION)["validation"], len(rows["validation"]))
    sources, references = list(validation["zh"]), list(validation["en"])
    scores = translation_scores(translate(model, tokenizer, sources), references)
    base = load_causal_lm(args.model)[0].to(next(model.parameters()).device)
    zero_shot = translation_scores(translate(base, tokenizer, sources), references)
    loss = evaluate(model, rows["validation"], causal_lm_loss, collate_fn=sft_collator(tokenizer))["loss"]
    metrics = {"val_bleu": scores["bleu"], "val_chrf": scores["chrf"], "val_bleu_zero_shot": zero_shot["bleu"],
               "val_chrf_zero_shot": zero_shot["chrf"], "val_loss": loss, "val_pairs": len(sources),
               "train_pairs": len(rows["train"])}
    out = save_translator(model, tokenizer, args.out, args.model, hyperparameters(args, report), metrics)
    write_report(out, report | {"val_chrf": scores["chrf"], "val_chrf_zero_shot": zero_shot["chrf"]})
    print(f"translation: {len(rows['train'])} training pairs, {args.epochs} epoch(s), {report['processes']} "
          f"process(es) ({report['distributed_type']}), trained in {report['seconds']:.1f} s; validation chrF "
          f"{scores['chrf']:.1f} (zero-shot {zero_shot['chrf']:.1f}), BLEU {scores['bleu']:.1f} "
          f"(zero-shot {zero_shot['bleu']:.1f}). Saved to {out}")


def finish_training(
    args: argparse.Namespace, model: PretrainedClassifier, tokenizer: Any, tokens: datasets.DatasetDict,
    report: dict[str, Any],
) -> None:
    """Validate the trained model, save it with its model card, write the training report and print a summary."""
    result = evaluate(model, tokens["validation"], cross_entropy, classification_metrics,
                      collate_fn=data.padding_collator(tokenizer))
    metrics = {"val_accuracy": result["accuracy"], "val_macro_f1": result["macro_f1"], "val_loss": result["loss"],
               "val_examples": len(tokens["validation"]), "train_examples": len(tokens["train"])}
    out = save_finetuned(model, tokenizer, args.out, args.task, list(TASKS[args.task].labels), args.model,
                         hyperparameters(args, report), metrics)
    write_report(out, report | {"val_accuracy": result["accuracy"]})
    print(f"{args.task}: {len(tokens['train'])} training examples, {args.epochs} epoch(s), "
          f"{report['processes']} process(es) ({report['distributed_type']}), trained in {report['seconds']:.1f} s; "
          f"validation accuracy {result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}. Saved to {out}")


def predict_command(args: argparse.Namespace) -> None:
    """Print each text's translation, or its predicted label and that label's probability."""
    model = load_finetuned(args.folder)
    if isinstance(model, FineTunedTranslator):
        for text, translation in zip(args.texts, model.translate(args.texts)):
            print(f"{text}  ->  {translation}")
        return
    width = max(map(len, model.labels))
    for text, result in zip(args.texts, model.predict(args.texts)):
        print(f"{result['label']:<{width}}  {result['probabilities'][result['label']]:.3f}  {text}")


def evaluate_command(args: argparse.Namespace) -> None:
    """Print a saved model's scores on (the first examples of) the test split of its task."""
    model = load_finetuned(args.folder)
    if isinstance(model, FineTunedTranslator):
        test = first_rows(data.load_course_data(TRANSLATION)["test"], args.max_examples)
        scores = translation_scores(model.translate(list(test["zh"])), list(test["en"]))
        print(f"translation test split ({len(test)} pairs): BLEU {scores['bleu']:.1f}, chrF {scores['chrf']:.1f}")
        return
    test = first_rows(task_data(model.task)["test"], args.max_examples)
    scores = classification_metrics(model.probabilities(test["text"]), torch.tensor(test["labels"]))
    print(f"{model.task} test split ({len(test)} examples): "
          f"accuracy {scores['accuracy']:.3f}, macro-F1 {scores['macro_f1']:.3f}")


def apply_defaults(args: argparse.Namespace) -> None:
    """Fill the training options left out with the defaults of the task's kind (see DEFAULTS)."""
    for name, value in DEFAULTS[task_kind(args.task)].items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)


def build_parser() -> argparse.ArgumentParser:
    """The `sft-course` command line: train, predict and evaluate sub-commands."""
    parser = argparse.ArgumentParser(prog="sft-course", description="Fine-tune, use and evaluate the course's models.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="fine-tune a model for a task and save it to a folder",
                                epilog=MULTI_PROCESS)
    train.add_argument("task", choices=sorted([*TASKS, TRANSLATION]),
                       help="sentiment of reviews, topic of news items, or Chinese-to-English translation")
    train.add_argument("--out", required=True, type=Path, help="folder to save the model, its card and report")
    train.add_argument("--epochs", type=positive_int, help="passes over the data (default 2; translation 1)")
    train.add_argument("--lr", type=positive_float, help="AdamW's learning rate (default 1e-4)")
    train.add_argument("--batch-size", type=positive_int,
                       help="examples per step and process (default 32; translation 8)")
    train.add_argument("--trainable-top-layers", type=int, metavar="K",
                       help="train the top K transformer layers (and the head); -1 trains everything "
                            "(default 2; translation -1)")
    train.add_argument("--max-examples", type=positive_int, metavar="N",
                       help="use only the first N training and N//4 validation examples (quick runs)")
    train.add_argument("--model", help="packaged short name, local folder or hub id "
                                       "(default minilm; translation smollm2-135m)")
    train.add_argument("--seed", type=int, default=0, help="seed of the new head and the shuffling (default 0)")
    train.set_defaults(run=train_command)
    predict = commands.add_parser("predict", help="label or translate texts with a saved model")
    predict.add_argument("folder", type=Path)
    predict.add_argument("texts", nargs="+", metavar="text")
    predict.set_defaults(run=predict_command)
    evaluate_parser = commands.add_parser(
        "evaluate", help="a saved model's scores on its test split (accuracy and macro-F1, or BLEU and chrF)")
    evaluate_parser.add_argument("folder", type=Path)
    evaluate_parser.add_argument("--max-examples", type=positive_int, metavar="N",
                                 help="score only the first N test examples (quick runs)")
    evaluate_parser.set_defaults(run=evaluate_command)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run the `sft-course` command line; bad input exits with code 2 and a one-line message."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        apply_defaults(args)
    try:
        args.run(args)
    except (CommandError, FineTunedFolderError, UnknownModelError, MissingModelPackageError) as error:
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")


if __name__ == "__main__":
    main()
