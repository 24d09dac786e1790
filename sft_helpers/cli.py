"""`sft-course train/predict/evaluate`: a course task or your own file, through the lessons' training loop.

Used in lessons: none
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import datasets
import torch
from torch.nn.functional import cross_entropy, mse_loss

from sft_helpers import data
from sft_helpers.causal_lm import causal_lm_loss, freeze_decoder, generate_outputs, sft_collator, sft_rows
from sft_helpers.finetuned import (
    CONFIG_FILE, UNFINISHED_FILE, FineTunedFolderError, FineTunedGenerator, FineTunedInstruct,
    FineTunedRegressor, data_record, load_finetuned, save_finetuned, save_generator, save_instruct,
)
from sft_helpers import instruct, recipes
from sft_helpers.metrics import (
    classification_metrics, classification_report_frame, confusion_frame, generation_scores, regression_metrics,
)
from sft_helpers.models import encoder_classifier, freeze, transformer_blocks
from sft_helpers.pretrained import MissingModelPackageError, UnknownModelError, load_causal_lm, load_encoder
from sft_helpers.runtime import choose_device, seed_everything
from sft_helpers.tasks import CLASSIFICATION, COURSE_TASKS, KINDS, REGRESSION, SEQ2SEQ, SPLITS, Task, own_task
from sft_helpers.evaluation import evaluate
from sft_helpers.train import History, TrainConfig, make_accelerator, train

REPORT_FILE, DATA_FOLDER = "training_report.json", "data"
MULTI_PROCESS = (
    "Several processes, data shared between them:\n"
    "  torchrun --nproc_per_node 2 -m sft_helpers.cli train ...  (CPU)\n"
    "  accelerate launch --multi_gpu --num_processes N -m sft_helpers.cli train ...  (GPUs)"
)


MONITORS = {  # the validation values --monitor can follow, by kind
    CLASSIFICATION: ("loss", "accuracy", "macro_f1"), REGRESSION: ("loss", "mse", "mae", "r2"), SEQ2SEQ: ("loss",)}


class CommandError(Exception):
    """Bad input found after argument parsing; printed as a usage error (exit code 2)."""


@dataclass
class Job:
    """Everything a training run needs besides its configuration: model, tokenizer, data, loss and metrics."""

    model: torch.nn.Module
    tokenizer: Any
    train: Any
    validation: Any
    collate: Callable[[list], dict[str, torch.Tensor]]
    loss_fn: Callable[[Any, torch.Tensor], torch.Tensor]
    metric_fn: Callable[[torch.Tensor, torch.Tensor], dict[str, float]] | None


def bounded(name: str, cast: Callable[[str], Any], low: float, above: bool = False,
            below: float | None = None) -> Callable[[str], Any]:
    """An argparse type called `name`: `cast` of the text, >= `low` (> when `above`) and, if given, < `below`."""
    rule = f"{'>' if above else '>='} {low}" + ("" if below is None else f" and < {below}")

    def check(text: str) -> Any:
        value = cast(text)
        if (value <= low if above else value < low) or (below is not None and not value < below):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
        return value

    check.__name__ = name  # argparse names it in "invalid NAME value: 'x'"
    return check


positive_int, non_negative_int = bounded("positive_int", int, 1), bounded("non_negative_int", int, 0)
positive_float = bounded("positive_float", float, 0, above=True)
share = bounded("share", float, 0, below=1)


def top_layers(text: str) -> int | None:
    """An argparse type: 'all' (None, train everything) or a number of top layers >= 0."""
    return None if text == "all" else non_negative_int(text)


def check_top_layers(trainable_top_layers: int | None, layers: int) -> None:
    """A CommandError unless the number of trainable top layers is None (everything) or from 0 to `layers`."""
    if trainable_top_layers is not None and trainable_top_layers > layers:
        raise CommandError(f"--trainable-top-layers must be from 0 to {layers} (the model's layers), "
                           f"or 'all'; got {trainable_top_layers}")


def command_task(args: argparse.Namespace) -> Task:
    """The course task named on the command line, or a task on the user's own file(s)."""
    if (args.task is None) == (args.data is None):
        raise CommandError("name a course task (" + ", ".join(COURSE_TASKS) + ") or give --data FILE, not both")
    if args.task is not None:
        return COURSE_TASKS[args.task]
    seq2seq = args.kind == SEQ2SEQ
    needed = ("--source-column", "--target-column") if seq2seq else ("--text-column", "--label-column")
    text_columns = args.source_column if seq2seq else args.text_column
    target = args.target_column if seq2seq else args.label_column
    if not text_columns or not target:
        raise CommandError(f"--kind {args.kind} needs {' and '.join(needed)} (the column names in {args.data})")
    return own_task(args.data, args.kind, tuple(text_columns), target, args.validation_data, args.test_data)


def check_out(out: Path, overwrite: bool) -> None:
    """A CommandError unless `out` is new, empty, or (with --overwrite) a folder that holds a saved model."""
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} is a file; give a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not (out / CONFIG_FILE).is_file():
        raise CommandError(f"--out {out} already holds other files; give a new or empty folder")
    if not overwrite:
        task = json.loads((out / CONFIG_FILE).read_text(encoding="utf-8")).get("task")
        raise CommandError(f"--out {out} already holds a model ({task}); give another folder, or add --overwrite "
                           "to replace it")


def cut_rows(rows: dict[str, list[dict[str, str]]], max_examples: int | None) -> dict[str, list[dict[str, str]]]:
    """The first N training and N//4 (at least 1) validation rows when `max_examples` is N; all test rows."""
    if max_examples is None:
        return rows
    return rows | {"train": rows["train"][:max_examples], "validation": rows["validation"][: max(1, max_examples // 4)]}


def describe_task(task: Task, rows: dict[str, list[dict[str, str]]]) -> str:
    """One line about the task's data: kind, classes found with their counts, split sizes."""
    sizes = ", ".join(f"{split} {len(rows[split])}" for split in SPLITS)
    if task.kind != CLASSIFICATION:
        return f"{task.name}: {task.kind}, {sizes}"
    counts = {label: sum(row[task.target_column] == label for split in rows.values() for row in split)
              for label in task.labels}
    classes = ", ".join(f"{label} ({count})" for label, count in counts.items())
    return f"{task.name}: {len(task.labels)} classes in column {task.target_column!r}: {classes}; {sizes}"


def build_encoder(model_name: str, outputs: int, depth: int | None) -> tuple[torch.nn.Module, Any]:
    """A pretrained encoder with a fresh head of `outputs`, frozen but for the top `depth` layers, and its tokenizer."""
    encoder, tokenizer = load_encoder(model_name)
    check_top_layers(depth, len(transformer_blocks(encoder)))
    model = freeze(encoder_classifier(encoder, outputs), depth)
    pooler = getattr(model.backbone, "pooler", None)
    if pooler is not None:  # mean pooling never uses it: a trainable pooler would get no gradient, which DDP rejects
        pooler.requires_grad_(False)
    return model, tokenizer


def encoder_job(task: Task, rows: dict[str, list[dict[str, str]]], model_name: str, depth: int | None,
                max_length: int) -> Job:
    """A classifier or regressor on a pretrained encoder, with the task's tokenised splits."""
    classes = task.kind == CLASSIFICATION
    model, tokenizer = build_encoder(model_name, len(task.labels) if classes else 1, depth)
    splits = datasets.DatasetDict({split: data.task_dataset(task, rows[split]) for split in ("train", "validation")})
    tokens = data.tokenize(splits, tokenizer, "text", max_length=max_length)
    tokens = tokens.select_columns(["input_ids", "attention_mask", "labels"]).with_format("torch")
    return Job(model, tokenizer, tokens["train"], tokens["validation"], data.padding_collator(tokenizer),
               cross_entropy if classes else mse_loss, classification_metrics if classes else regression_metrics)


def generator_job(task: Task, rows: dict[str, list[dict[str, str]]], model_name: str, depth: int | None,
                  max_length: int) -> Job:
    """A pretrained causal LM fine-tuned on chats (prompt masked), frozen but for the top `depth` blocks."""
    model, tokenizer = load_causal_lm(model_name)
    check_top_layers(depth, len(transformer_blocks(model.model)))
    examples = {split: sft_rows(tokenizer, task, rows[split], max_length) for split in ("train", "validation")}
    return Job(freeze_decoder(model, depth), tokenizer, examples["train"], examples["validation"],
               sft_collator(tokenizer), causal_lm_loss, None)


def train_config(args: argparse.Namespace, recipe: recipes.Recipe) -> TrainConfig:
    """The recipe's configuration with every option given on the command line put in its place."""
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    return replace(recipe.config, **given)


def validation_metrics(task: Task, job: Job, rows: list[dict[str, str]], base_model: str) -> dict[str, float]:
    """Validation scores of the trained model (and, for seq2seq, of the base model zero-shot)."""
    result = evaluate(job.model, job.validation, job.loss_fn, job.metric_fn, collate_fn=job.collate)
    scores = {f"val_{key}": value for key, value in result.items() if key != "examples_per_second"}
    if task.kind != SEQ2SEQ:
        return scores
    sources, references = [task.text(row) for row in rows], [row[task.target_column] for row in rows]
    trained = generation_scores(task, generate_outputs(job.model, job.tokenizer, task, sources), references)
    base = load_causal_lm(base_model)[0].to(next(job.model.parameters()).device)
    zero_shot = generation_scores(task, generate_outputs(base, job.tokenizer, task, sources), references)
    return (scores | {f"val_{key}": value for key, value in trained.items()}
            | {f"val_{key}_zero_shot": value for key, value in zero_shot.items()})


def save_model(staging: Path, task: Task, job: Job, base_model: str, settings: dict[str, Any],
               metrics: dict[str, float], data_info: dict[str, Any]) -> None:
    """Save the trained model with its config and model card into `staging`."""
    if task.kind == SEQ2SEQ:
        save_generator(job.model, job.tokenizer, staging, task, base_model, settings, metrics, data_info=data_info)
    else:
        save_finetuned(job.model, job.tokenizer, staging, task, list(task.labels), base_model, settings, metrics,
                       data_info)


def publish(staging: Path, out: Path, overwrite: bool) -> None:
    """Move a finished folder into place: only now does `out` change, so a failed run leaves the old one."""
    check_out(out, overwrite)
    if out.is_dir():
        shutil.rmtree(out)
    (staging / UNFINISHED_FILE).unlink()
    staging.rename(out)


@contextlib.contextmanager
def staged_folder(out: Path, overwrite: bool) -> Iterator[Path]:
    """A hidden folder beside `out` (with an empty data folder) to save a run into; it becomes `out` only when the
    block finishes, and is removed if it fails."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-unfinished-"))
    try:
        (staging / UNFINISHED_FILE).touch()
        (staging / DATA_FOLDER).mkdir()
        yield staging
        staging.chmod(0o755)  # mkdtemp made it private to its owner
        publish(staging, out, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def finish(args: argparse.Namespace, task: Task, rows: dict[str, list[dict[str, str]]], job: Job,
           settings: dict[str, Any], report: dict[str, Any]) -> None:
    """Validate, then save model, card, splits and report into a hidden folder, and move it to --out at the end."""
    metrics = validation_metrics(task, job, rows["validation"], settings["model"])
    with staged_folder(args.out, args.overwrite) as staging:
        save_model(staging, task, job, settings["model"], settings, metrics,
                   data_record(task, {split: len(rows[split]) for split in SPLITS}))
        for split in SPLITS:
            data.write_rows(staging / DATA_FOLDER / f"{split}.csv", rows[split], list(rows[split][0]))
        (staging / REPORT_FILE).write_text(json.dumps(report | metrics, indent=2) + "\n", encoding="utf-8")
    shown = ", ".join(f"{key[4:]} {value:.3f}" for key, value in metrics.items())
    print(f"{task.name}: {len(rows['train'])} training examples, {len(report['epochs'])} epoch(s), "
          f"{report['processes']} process(es) ({report['distributed_type']}), trained in {report['seconds']:.1f} s; "
          f"validation {shown}. Saved to {args.out}")


def run_report(accelerator: Any, history: History, seconds: float) -> dict[str, Any]:
    """How the run went: processes, steps on each, epochs (with validation), early stopping, seconds."""
    steps = accelerator.gather(torch.tensor([len(history.steps)], device=accelerator.device)).cpu().tolist()
    return {"processes": accelerator.num_processes, "distributed_type": str(accelerator.distributed_type),
            "steps_per_process": steps, "epochs": history.epochs, "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early, "seconds": round(seconds, 2)}


def instruct_data_record(split_sizes: dict[str, int]) -> dict[str, Any]:
    """What an instruction model's card says about its data: each file (path, bytes, SHA-256) and the split sizes."""
    files = {"phrasings": instruct.PHRASINGS_FILE, "general_train": instruct.GENERAL_TRAIN_FILE,
             "general_eval": instruct.GENERAL_EVAL_FILE}
    files |= {f"{task}_{split}": COURSE_TASKS[task].files[split] for task in instruct.TASKS
              for split in ("train", "validation")}
    return {"files": {key: data.file_record(path) for key, path in files.items()}, "split_sizes": split_sizes}


def write_instructions(path: Path, items: Sequence[instruct.Instruction]) -> None:
    """Write instructions as a CSV file (task, source row id, phrasing, prompt, answer)."""
    data.write_rows(path, [asdict(item) for item in items], ["task", "source", "phrasing", "prompt", "answer"])


def train_instruct_command(args: argparse.Namespace) -> None:
    """Instruction-tune a chat model on the course's three tasks (lesson 10's recipe); save it with card and report."""
    if args.data is not None:
        raise CommandError("instruct trains on the course's instruction data; --data is for one task of your own")
    check_out(args.out, args.overwrite)
    config = train_config(args, recipes.INSTRUCT)
    if args.patience is None:  # --patience not given: the recipe stops early (the option's default is for the others)
        config = replace(config, patience=recipes.INSTRUCT.config.patience)
    if config.monitor != "loss":
        raise CommandError(f"--monitor {config.monitor} is not measured for instruct; choose loss")
    size = args.max_examples or recipes.TRAIN_SIZE
    train_items = instruct.instruction_set("train", size, general_share=args.general_share, seed=config.seed)
    validation_items = instruct.instruction_set("validation", min(recipes.VALIDATION_SIZE, max(6, size // 4)),
                                                seed=config.seed)
    model_name = getattr(args, "model", recipes.INSTRUCT.model)
    depth = getattr(args, "trainable_top_layers", recipes.INSTRUCT.trainable_top_layers)
    accelerator = make_accelerator(choose_device())
    seed_everything(config.seed)
    model, tokenizer = load_causal_lm(model_name)
    check_top_layers(depth, len(transformer_blocks(model.model)))
    run = instruct.train_instruct(model, tokenizer, train_items, validation_items, config, depth,
                                  accelerator=accelerator)
    report = run_report(accelerator, run.history, run.seconds) | {"cache_seconds": round(run.cache_seconds, 2)}
    metrics = ({"val_loss": min(epoch["val_loss"] for epoch in run.history.epochs)}
               | instruct.evaluate_instruct(model, tokenizer, "validation", args.eval_examples, config.seed))
    settings = asdict(config) | {"model": model_name, "trainable_top_layers": "all" if depth is None else depth,
                                 "max_length": recipes.INSTRUCT.max_length, "max_examples": args.max_examples,
                                 "general_share": args.general_share, "eval_examples": args.eval_examples}
    heldout = [{"id": p.id, "task": p.task, "language": p.language, "template": p.template}
               for p in instruct.load_phrasings() if p.split == instruct.HELDOUT]
    with staged_folder(args.out, args.overwrite) as staging:
        save_instruct(model, tokenizer, staging, model_name, settings, metrics, recipes.MIXING_RATIO,
                      args.general_share, heldout,
                      instruct_data_record({"train": len(train_items), "validation": len(validation_items)}))
        write_instructions(staging / DATA_FOLDER / "train.csv", train_items)
        write_instructions(staging / DATA_FOLDER / "validation.csv", validation_items)
        (staging / REPORT_FILE).write_text(json.dumps(report | metrics, indent=2) + "\n", encoding="utf-8")
    shown = ", ".join(f"{key} {value:.3f}" for key, value in metrics.items())
    print(f"instruct: {len(train_items)} training instructions, {len(report['epochs'])} epoch(s), frozen blocks cached "
          f"in {run.cache_seconds:.1f} s, trained in {report['seconds']:.1f} s; validation {shown}. Saved to {args.out}")


def train_command(args: argparse.Namespace) -> None:
    """Fine-tune a model for a task with Accelerate (one or many processes); save it with a model card and a report."""
    if args.task == recipes.INSTRUCT_TASK:
        return train_instruct_command(args)
    task = command_task(args)
    check_out(args.out, args.overwrite)
    accelerator = make_accelerator(choose_device())
    task, rows = data.load_task(task, args.seed)
    rows = cut_rows(rows, args.max_examples)
    recipe = recipes.recipe_for(args.task, task.kind)
    config = train_config(args, recipe)
    if config.monitor not in MONITORS[task.kind]:
        raise CommandError(f"--monitor {config.monitor} is not measured for {task.kind}; choose one of "
                           f"{', '.join(MONITORS[task.kind])}")
    model_name = getattr(args, "model", recipe.model)
    depth = getattr(args, "trainable_top_layers", recipe.trainable_top_layers)
    if accelerator.is_main_process:
        print(describe_task(task, rows))
        leaked = data.leaked_texts({split: [task.text(row) for row in rows[split]] for split in SPLITS})
        if leaked:
            print(f"warning: {len(leaked)} text(s) appear in more than one split, e.g. {next(iter(leaked))!r}")
    seed_everything(config.seed)  # the same seed on every process: the same fresh head everywhere
    with accelerator.main_process_first():  # one process converts the model and fills the data cache
        job = (generator_job if task.kind == SEQ2SEQ else encoder_job)(task, rows, model_name, depth, recipe.max_length)
    start = time.perf_counter()
    history = train(job.model, job.train, config, job.loss_fn, job.validation, job.metric_fn, job.collate,
                    accelerator=accelerator)
    report = run_report(accelerator, history, time.perf_counter() - start)
    if accelerator.is_main_process:
        settings = asdict(config) | {"model": model_name, "trainable_top_layers": "all" if depth is None else depth,
                                     "max_length": recipe.max_length, "max_examples": args.max_examples,
                                     "processes": accelerator.num_processes}
        finish(args, task, rows, job, settings, report)
    accelerator.wait_for_everyone()
    accelerator.end_training()


def predict_command(args: argparse.Namespace) -> None:
    """Print each text's output, predicted value, or predicted label and that label's probability."""
    model = load_finetuned(args.folder)
    if isinstance(model, FineTunedInstruct):
        for text, output in zip(args.texts, model.answer(args.texts)):
            print(f"{text}  ->  {output}")
    elif isinstance(model, FineTunedGenerator):
        for text, output in zip(args.texts, model.generate(args.texts)):
            print(f"{text}  ->  {output}")
    elif isinstance(model, FineTunedRegressor):
        for text, result in zip(args.texts, model.predict(args.texts)):
            print(f"{result['value']:.3f}  {text}")
    else:
        width = max(map(len, model.labels))
        for text, result in zip(args.texts, model.predict(args.texts)):
            print(f"{result['label']:<{width}}  {result['probabilities'][result['label']]:.3f}  {text}")


def saved_task(config: dict[str, Any], path: Path) -> Task:
    """The task a saved model was trained for, reading its examples from `path`."""
    record = config["data"]
    kind = {"classifier": CLASSIFICATION, "regressor": REGRESSION, "generator": SEQ2SEQ}[config["kind"]]
    return Task(config["task"], kind, {"test": path}, tuple(record["text_columns"]), record["target_column"],
                tuple(config.get("labels", ())), record["joiner"], config.get("system_prompt"),
                metrics=tuple(config.get("text_metrics", ())))


def evaluation_file(folder: Path, config: dict[str, Any], given: Path | None) -> Path:
    """The file to evaluate on: the one given, else the test split saved with the model, else its task's test file."""
    if given is not None:
        return given
    if (folder / DATA_FOLDER / "test.csv").is_file():
        return folder / DATA_FOLDER / "test.csv"
    if "test" not in config["data"]["files"]:
        raise CommandError(f"{folder} has no test split saved with it; give one with --data FILE")
    return Path(config["data"]["files"]["test"]["path"])


def score(model: Any, task: Task, rows: list[dict[str, str]], folder: Path, stem: str) -> dict[str, Any]:
    """Score a loaded model on labelled rows; for a classifier, print the per-class report and save a confusion PNG."""
    texts, targets = [task.text(row) for row in rows], [row[task.target_column] for row in rows]
    if isinstance(model, FineTunedGenerator):
        return generation_scores(task, model.generate(texts), targets)
    if isinstance(model, FineTunedRegressor):
        predictions = torch.tensor([p["value"] for p in model.predict(texts)])
        return regression_metrics(predictions, torch.tensor([float(t) for t in targets]))
    truth = torch.tensor([task.labels.index(t) for t in targets])
    probabilities = model.probabilities(texts)
    report = classification_report_frame(truth.tolist(), probabilities.argmax(-1).tolist(), task.labels)
    print(report.round(3).to_string())
    matrix = confusion_frame(truth.tolist(), probabilities.argmax(-1).tolist(), task.labels)
    from sft_helpers.plots import save_confusion  # matplotlib loads only when a figure is drawn

    save_confusion(matrix, f"{task.name} on {stem}", folder / f"confusion-{stem}.png")
    metrics = classification_metrics(probabilities, truth)
    return metrics | {"per_class": report.round(4).to_dict(orient="index")}


def evaluate_command(args: argparse.Namespace) -> None:
    """Score a saved model on a labelled file; print the scores; write them (and a confusion matrix) into its folder."""
    model = load_finetuned(args.folder)
    if isinstance(model, FineTunedInstruct):
        if args.data is not None:
            raise CommandError("an instruct model is evaluated on the course's test items; --data is not used")
        metrics = instruct.evaluate_instruct(model.model, model.tokenizer, "test", args.max_examples)
        (args.folder / "evaluation-test.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        print("instruct on the test items: " + ", ".join(f"{key} {value:.3f}" for key, value in metrics.items()))
        return
    path = evaluation_file(args.folder, model.config, args.data)
    task = saved_task(model.config, path)
    rows = data.read_rows(path, task.columns)
    data.check_task_rows(task, path, rows)
    if task.kind == CLASSIFICATION:
        data.check_labels(task, path, rows)
    rows = rows[: args.max_examples] if args.max_examples else rows
    metrics = {"data": data.file_record(path), "examples": len(rows)} | score(model, task, rows, args.folder, path.stem)
    (args.folder / f"evaluation-{path.stem}.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    shown = ", ".join(f"{key} {value:.3f}" for key, value in metrics.items() if isinstance(value, float))
    print(f"{task.name} on {path} ({len(rows)} examples): {shown}")


def recipe_help(about: str, recipe: recipes.Recipe) -> str:
    """Three lines of the train help: a task, the settings of its recipe, and where they come from."""
    layers = "every layer" if recipe.trainable_top_layers is None else f"top {recipe.trainable_top_layers} layers"
    config = recipe.config
    return (f"  {about}\n      {recipe.model}, {layers}, lr {config.lr:g}, batch size {config.batch_size}, "
            f"{config.epochs} epoch(s), {config.warmup_steps} warm-up steps, {recipe.max_length} tokens at most\n"
            f"      ({recipe.source})")


def same_recipe(recipe: recipes.Recipe) -> list[str]:
    """The course tasks trained with this recipe."""
    return [name for name, task in COURSE_TASKS.items() if recipes.recipe_for(name, task.kind) is recipe]


def train_description() -> str:
    """The train sub-command's description: each course task with its recipe, instruct's, and your own file's."""
    tasks = [recipe_help(f"{name} ({task.kind}): {task.description}", recipes.recipe_for(name, task.kind))
             for name, task in COURSE_TASKS.items()]
    tuned = recipe_help(f"{recipes.INSTRUCT_TASK}: one chat model for {', '.join(instruct.TASKS)}", recipes.INSTRUCT)
    own = "; ".join(f"{kind} as {', '.join(same_recipe(recipe))}" for kind, recipe in recipes.KIND_RECIPES.items())
    return ("Fine-tune a model on a course task or your own file, and save it.\nAn option you do not give takes the "
            "value of the task's recipe (sft_helpers/recipes.py):\n" + "\n".join([*tasks, tuned])
            + f"\n  --data FILE: the recipe of its --kind\n      {own}")


def add_train_parser(commands: Any) -> None:
    """The `train` sub-command: a course task or your own file, the recipe's settings unless given."""
    parser = commands.add_parser("train", help="fine-tune a model on a course task or your own file; save it",
                                 description=train_description(), epilog=MULTI_PROCESS,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", nargs="?", choices=sorted(COURSE_TASKS) + [recipes.INSTRUCT_TASK],
                        help="a course task, or instruct (see above)")
    parser.add_argument("--out", required=True, type=Path, help="folder to save the model, its card, splits and report")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already saved in --out")
    own = parser.add_argument_group("your own data (instead of a course task)")
    own.add_argument("--data", type=Path, help="a .csv or .jsonl file; split into train/validation/test unless given")
    own.add_argument("--kind", choices=KINDS, default=CLASSIFICATION,
                     help="what the model predicts (default %(default)s)")
    own.add_argument("--text-column", nargs="+", metavar="COL", help="input column(s), joined by '. '")
    own.add_argument("--label-column", metavar="COL", help="the class (classification) or number (regression)")
    own.add_argument("--source-column", nargs="+", metavar="COL", help="seq2seq: the input column(s)")
    own.add_argument("--target-column", metavar="COL", help="seq2seq: the column of texts to generate")
    own.add_argument("--validation-data", type=Path, help="a validation file instead of one split from --data")
    own.add_argument("--test-data", type=Path, help="a test file instead of one split from --data")
    settings = parser.add_argument_group("training (defaults: the task's recipe, above, or the value shown)")
    suppress = {"default": argparse.SUPPRESS}  # not given: the task's recipe decides
    settings.add_argument("--model", **suppress, help="packaged short name, folder or hub id")
    settings.add_argument("--trainable-top-layers", type=top_layers, metavar="K|all", **suppress,
                          help="train the top K transformer layers and the head")
    settings.add_argument("--epochs", type=positive_int, **suppress, help="passes over the data")
    settings.add_argument("--lr", type=positive_float, **suppress, help="AdamW's peak learning rate")
    settings.add_argument("--batch-size", type=positive_int, **suppress, help="examples per step and process")
    settings.add_argument("--warmup-steps", type=non_negative_int, **suppress, help="steps of linear warm-up")
    defaults = recipes.ENCODER.config
    settings.add_argument("--weight-decay", type=float, default=defaults.weight_decay,
                          help="AdamW's weight decay (default %(default)s)")
    settings.add_argument("--max-grad-norm", type=positive_float, default=defaults.max_grad_norm,
                          help="clip gradients to this norm (default %(default)s: no clipping)")
    settings.add_argument("--patience", type=positive_int, default=defaults.patience,
                          help="stop after this many epochs without a better validation value, and keep the best "
                               "epoch's weights (default %(default)s: train every epoch)")
    settings.add_argument("--monitor", default=defaults.monitor,
                          choices=sorted({name for names in MONITORS.values() for name in names}),
                          help="the validation value --patience follows: loss, or accuracy/macro_f1 (classification),"
                               " mae/mse/r2 (regression) (default %(default)s)")
    settings.add_argument("--max-examples", type=positive_int, metavar="N",
                          help="use only the first N training and N//4 validation examples (quick runs)")
    settings.add_argument("--seed", type=int, default=defaults.seed,
                          help="seed of the split, the new head and the shuffling (default %(default)s)")
    tuned = parser.add_argument_group("instruct only")
    tuned.add_argument("--general-share", type=share, default=recipes.GENERAL_SHARE,
                       help="share of general instructions mixed into the training data (default %(default)s)")
    tuned.add_argument("--eval-examples", type=positive_int, default=recipes.EVAL_EXAMPLES, metavar="N",
                       help="validation items per task (and per kind of phrasing) scored by generation and, for labels, likelihood "
                            "(default %(default)s)")
    parser.set_defaults(run=train_command)


def build_parser() -> argparse.ArgumentParser:
    """The `sft-course` command line: train, predict and evaluate sub-commands."""
    parser = argparse.ArgumentParser(prog="sft-course", description="Fine-tune, use and evaluate models.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_parser(commands)
    predict = commands.add_parser("predict", help="label, score or generate for texts with a saved model")
    predict.add_argument("folder", type=Path)
    predict.add_argument("texts", nargs="+", metavar="text")
    predict.set_defaults(run=predict_command)
    evaluate_parser = commands.add_parser(
        "evaluate", help="score a saved model on a labelled file; print the scores, write them into its folder")
    evaluate_parser.add_argument("folder", type=Path)
    evaluate_parser.add_argument("--data", type=Path,
                                 help="a .csv or .jsonl file with the model's columns (default: its test split)")
    evaluate_parser.add_argument("--max-examples", type=positive_int, metavar="N",
                                 help="score only the first N examples (quick runs; instruct: N items per task "
                                      "instead of every test item)")
    evaluate_parser.set_defaults(run=evaluate_command)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run the `sft-course` command line; bad input exits with code 2 and a one-line message."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (CommandError, data.DataError, FineTunedFolderError, UnknownModelError, MissingModelPackageError) as error:
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")


if __name__ == "__main__":
    main()
