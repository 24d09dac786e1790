"""Data loading: read and check files, load course data sets and a task's splits (without leakage), tokenise.

Used in lessons: 01, 02, 03, 04, 05, 06, 07, 08, 09, 10
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import datasets
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase

from sft_helpers.recipes import ENCODER
from sft_helpers.tasks import (  # noqa: F401  (SENTIMENTS, NEWS_TOPICS: lessons read them here)
    CLASSIFICATION, COURSE_COLUMNS, DATA, DATA_ROOT, NEWS_TOPICS, REGRESSION, SENTIMENTS, SPLITS, Task,
    course_task,
)

datasets.disable_progress_bars()  # loading and mapping these small files takes under a second; bars would only add noise

STAR_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
STAR_PATTERN = re.compile(r"^(?P<n>[1-5])(?:\.0)?(?:\s*/\s*5|\s*stars?)?$|^(?P<glyphs>★{1,5})$")


class DataError(ValueError):
    """A problem in a data file, located by file, row and column."""

    def __init__(self, path: str | Path, problem: str, row: int | None = None, column: str | None = None):
        where = [str(path)] + ([f"row {row}"] if row is not None else []) + ([f"column {column!r}"] if column else [])
        super().__init__(f"{', '.join(where)}: {problem}")
        self.path, self.row, self.column = Path(path), row, column


def read_text(path: str | Path) -> str:
    """A data file's text, or a DataError for a missing or empty file or one that is not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found; check the path")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(path, "the file is empty")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise encoding_error(path, raw, error) from None


def check_columns(path: Path, found: Sequence[str], required: Sequence[str]) -> None:
    """A DataError naming the required columns a file lacks and the columns it has."""
    missing = [c for c in required if c not in found]
    if missing:
        raise DataError(path, f"missing column(s) {missing}; the file has the columns {list(found)}")


def check_csv(path: str | Path, required_columns: Sequence[str]) -> list[dict[str, str]]:
    """Read a CSV strictly: clear errors for a missing or empty file, bad encoding, missing columns, ragged rows."""
    path = Path(path)
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    check_columns(path, reader.fieldnames or [], required_columns)
    rows = []
    for number, row in enumerate(reader, start=1):
        if None in row or None in row.values():
            raise DataError(path, f"expected {len(reader.fieldnames)} fields, found a different number", row=number)
        rows.append(row)
    return rows


def check_jsonl(path: str | Path, required_columns: Sequence[str]) -> list[dict[str, str]]:
    """Read a JSON Lines file strictly (one object per line, values as text), with the errors of `check_csv`."""
    path, rows = Path(path), []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(path, f"not valid JSON ({error.msg}); write one JSON object per line", row=number) from None
        if not isinstance(row, dict):
            raise DataError(path, 'each line must be one JSON object, e.g. {"text": "...", "label": "..."}', number)
        rows.append({key: "" if value is None else str(value) for key, value in row.items()})
    check_columns(path, list(dict.fromkeys(key for row in rows for key in row)), required_columns)
    return [{column: row.get(column, "") for column in required_columns} | row for row in rows]


def read_rows(path: str | Path, required_columns: Sequence[str]) -> list[dict[str, str]]:
    """The rows of a .csv or .jsonl file, checked to have `required_columns`."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".jsonl"):
        raise DataError(path, "expected a .csv or .jsonl file")
    return check_jsonl(path, required_columns) if path.suffix.lower() == ".jsonl" else check_csv(path, required_columns)


def encoding_error(path: Path, raw: bytes, error: UnicodeDecodeError) -> DataError:
    """Locate a byte that is not UTF-8 by data row and column (by line in a .jsonl file)."""
    message = f"not valid UTF-8 (byte {raw[error.start]:#x}); save the file as UTF-8"
    if path.suffix.lower() == ".jsonl":
        return DataError(path, message, raw.count(b"\n", 0, error.start) + 1)
    line_start = raw.rfind(b"\n", 0, error.start) + 1
    row = raw.count(b"\n", 0, error.start)
    header = next(csv.reader([raw.split(b"\n", 1)[0].decode("utf-8", "replace")]))
    fields = next(csv.reader([raw[line_start : raw.find(b"\n", error.start)].decode("utf-8", "replace")]), [])
    column = next((header[i] for i, field in enumerate(fields) if "\ufffd" in field and i < len(header)), None)
    return DataError(path, message, row, column)


def load_csv_dataset(path: str | Path, required_columns: Sequence[str]) -> datasets.Dataset:
    """Check a CSV file, then load it with `datasets.load_dataset("csv")`, every column as text."""
    rows = check_csv(path, required_columns)
    columns = list(rows[0]) if rows else list(required_columns)
    features = datasets.Features({name: datasets.Value("string") for name in columns})
    return datasets.load_dataset("csv", data_files=str(path), split="train", features=features, keep_default_na=False)


def load_splits(folder: str | Path, required_columns: Sequence[str]) -> datasets.DatasetDict:
    """Load the canonical train/validation/test CSV files of a data set folder."""
    folder = Path(folder)
    return datasets.DatasetDict({split: load_csv_dataset(folder / f"{split}.csv", required_columns) for split in SPLITS})


def load_course_data(name: str) -> datasets.DatasetDict:
    """The canonical splits of a course data set: 'reviews' (stars as integers), 'news' or 'translation'."""
    if name not in COURSE_COLUMNS:
        raise ValueError(f"Unknown data set {name!r}; the course has {sorted(COURSE_COLUMNS)}.")
    splits = load_splits(DATA_ROOT / name, COURSE_COLUMNS[name])
    if "stars" in COURSE_COLUMNS[name]:
        for split in SPLITS:
            stars = parse_stars(splits[split]["stars"], DATA_ROOT / name / f"{split}.csv")
            splits[split] = splits[split].remove_columns("stars").add_column("stars", stars)
    return splits


def parse_stars(values: Iterable[str], path: str | Path = "<data>", column: str = "stars") -> list[int | None]:
    """Star ratings 1-5 from '4', '4/5', '4 stars', 'four' or '★★★★'; empty means missing; else a DataError."""
    parsed = []
    for row, value in enumerate(values, start=1):
        text = (value or "").strip().lower()
        match = STAR_PATTERN.match(text)
        if not text:
            parsed.append(None)
        elif text in STAR_WORDS:
            parsed.append(STAR_WORDS[text])
        elif match:
            parsed.append(int(match["n"]) if match["n"] else len(match["glyphs"]))
        else:
            raise DataError(path, f"cannot read {value!r} as a star rating from 1 to 5", row=row, column=column)
    return parsed


def dedup_key(text: str) -> str:
    """The text with case, punctuation and spacing removed: equal keys mean near-duplicates."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def stratified_split(
    labels: Sequence[str],
    groups: Sequence[str],
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> list[str]:
    """Assign each row to train/validation/test, stratified by label, keeping each group in one split."""
    if abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {fractions}")
    group_label = {}
    for group, label in zip(groups, labels):
        group_label.setdefault(group, label)
    by_label = defaultdict(list)
    for group, label in group_label.items():
        by_label[label].append(group)
    rng = random.Random(seed)
    split_of = {}
    for label in sorted(by_label):
        members = sorted(by_label[label])
        rng.shuffle(members)
        cut_train = round(len(members) * fractions[0])
        cut_val = cut_train + round(len(members) * fractions[1])
        for position, group in enumerate(members):
            split_of[group] = SPLITS[0] if position < cut_train else SPLITS[1] if position < cut_val else SPLITS[2]
    return [split_of[group] for group in groups]


def leaked_texts(splits: dict[str, Sequence[str]]) -> dict[str, list[str]]:
    """Texts (after normalisation) found in more than one split, with the splits they are in."""
    seen = defaultdict(set)
    for split, texts in splits.items():
        for text in texts:
            seen[dedup_key(text)].add(split)
    return {text: sorted(names) for text, names in seen.items() if len(names) > 1}


def rows_list(numbers: Sequence[int], shown: int = 5) -> str:
    """Row numbers for a message: the first few, then how many more."""
    more = f" and {len(numbers) - shown} more" if len(numbers) > shown else ""
    return ", ".join(map(str, numbers[:shown])) + more


def check_task_rows(task: Task, path: Path, rows: list[dict[str, str]]) -> None:
    """A DataError for a file without examples, empty texts or targets, and a regression target that is not a number."""
    if not rows:
        raise DataError(path, "no examples, only a header; add rows of data")
    for columns in (task.text_columns, (task.target_column,)):
        empty = [n for n, row in enumerate(rows, start=1) if not any(row[c].strip() for c in columns)]
        if empty:
            raise DataError(path, f"{len(empty)} empty value(s) in {' / '.join(columns)} (row(s) {rows_list(empty)}); "
                                  "fill them in or remove those rows")
    if task.kind == REGRESSION:
        for number, row in enumerate(rows, start=1):
            try:
                float(row[task.target_column])
            except ValueError:
                raise DataError(path, f"cannot read {row[task.target_column]!r} as a number; a regression target "
                                      "must be numeric", number, task.target_column) from None


def check_labels(task: Task, path: Path, rows: list[dict[str, str]]) -> None:
    """A DataError for the first label that is not one of the task's class names."""
    for number, row in enumerate(rows, start=1):
        if row[task.target_column] not in task.labels:
            raise DataError(path, f"unknown label {row[task.target_column]!r}; the labels are {list(task.labels)}",
                            number, task.target_column)


def task_labels(task: Task, rows: dict[str, list[dict[str, str]]]) -> tuple[str, ...]:
    """A classification task's class names: the task's own, else those found in the data (sorted); checked."""
    labels = task.labels or tuple(sorted({row[task.target_column] for split in rows.values() for row in split}))
    for key, split in rows.items():
        check_labels(replace(task, labels=labels), task.files[key], split)
    if len(labels) < 2:
        raise DataError(next(iter(task.files.values())), f"only one class ({labels[0]!r}) in column "
                        f"{task.target_column!r}; a classifier needs at least two: check the label column")
    return labels


def split_task_rows(task: Task, rows: dict[str, list[dict[str, str]]], seed: int) -> dict[str, list[dict[str, str]]]:
    """Train, validation and test rows: given files as they are, the rest split from the DATA file without leakage."""
    if DATA not in rows:
        return rows
    made = ["train"] + [split for split in SPLITS[1:] if split not in rows]
    shares = {"train": 0.8, "validation": 0.1, "test": 0.1}
    fractions = tuple(shares[split] / sum(shares[m] for m in made) if split in made else 0.0 for split in SPLITS)
    examples = rows[DATA]
    strata = [row[task.target_column] if task.kind == CLASSIFICATION else "" for row in examples]
    assigned = stratified_split(strata, [dedup_key(task.text(row)) for row in examples], fractions, seed)
    for stratum in sorted(set(strata)):
        counts = {split: sum(a == split and s == stratum for a, s in zip(assigned, strata)) for split in made}
        if min(counts.values()) == 0:
            what = f"class {stratum!r} has" if task.kind == CLASSIFICATION else "the file has"
            raise DataError(task.files[DATA], f"{what} only {sum(counts.values())} example(s), too few to split into "
                                              f"{', '.join(made)}; add examples (10 or more) or give validation and "
                                              "test files")
    split_rows = {split: [row for row, a in zip(examples, assigned) if a == split] for split in made}
    return {split: split_rows.get(split) or rows[split] for split in SPLITS}


def load_task(task: Task, seed: int = 0) -> tuple[Task, dict[str, list[dict[str, str]]]]:
    """Read and check a task's files; return the task (with its class names) and its train/validation/test rows."""
    rows = {key: read_rows(path, task.columns) for key, path in task.files.items()}
    for key, path in task.files.items():
        check_task_rows(task, path, rows[key])
    if task.kind == CLASSIFICATION:
        task = replace(task, labels=task_labels(task, rows))
    return task, split_task_rows(task, rows, seed)


def task_dataset(task: Task, rows: list[dict[str, str]]) -> datasets.Dataset:
    """A split as a Dataset: the input `text`, and `labels` (class index or number) or the `target` text."""
    texts = [task.text(row) for row in rows]
    targets = [row[task.target_column] for row in rows]
    if task.kind == CLASSIFICATION:
        return datasets.Dataset.from_dict({"text": texts, "labels": [task.labels.index(t) for t in targets]})
    if task.kind == REGRESSION:
        features = datasets.Features({"text": datasets.Value("string"), "labels": datasets.Value("float32")})
        return datasets.Dataset.from_dict({"text": texts, "labels": [float(t) for t in targets]}, features=features)
    return datasets.Dataset.from_dict({"text": texts, "target": targets})


def course_task_splits(task: Task) -> datasets.DatasetDict:
    """A course task's canonical splits, as its data set's files hold them (every column)."""
    return load_course_data(task.files["train"].parent.name)


def task_data(name: str) -> datasets.DatasetDict:
    """A course task's canonical splits (every column) with a `text` column and integer `labels`."""
    task = course_task(name)
    splits = course_task_splits(task).map(lambda row: {"text": task.text(row)})
    return encode_labels(splits, task.target_column, task.labels)


def file_record(path: Path) -> dict[str, Any]:
    """A file's path, size in bytes and SHA-256, so that a model card pins the data it was trained on."""
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def write_rows(path: Path, rows: list[dict[str, str]], columns: Sequence[str]) -> None:
    """Write rows as a UTF-8 CSV file with the given columns."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def encode_labels(dataset: datasets.DatasetDict, column: str, names: Sequence[str]) -> datasets.DatasetDict:
    """Turn a text label column into integer `labels` by the order of `names`."""
    position = {name: index for index, name in enumerate(names)}
    return dataset.map(lambda row: {"labels": position[row[column]]})


def tokenize(
    dataset: datasets.DatasetDict,
    tokenizer: PreTrainedTokenizerBase,
    text_column: str,
    max_length: int = ENCODER.max_length,
) -> datasets.DatasetDict:
    """Tokenise a text column without padding (padding happens per batch), truncating at `max_length`."""
    encode = lambda batch: tokenizer(batch[text_column], truncation=True, max_length=max_length)  # noqa: E731
    return dataset.map(encode, batched=True)


def padding_collator(tokenizer: PreTrainedTokenizerBase) -> DataCollatorWithPadding:
    """Pads each batch to its own longest sequence (dynamic padding)."""
    return DataCollatorWithPadding(tokenizer, return_tensors="pt")


def truncation_cost(token_lengths: Sequence[int], max_length: int) -> dict[str, float]:
    """Share of texts cut at `max_length`, and share of all tokens lost by cutting."""
    cut = [length for length in token_lengths if length > max_length]
    return {
        "texts_truncated": len(cut) / len(token_lengths),
        "tokens_lost": sum(length - max_length for length in cut) / sum(token_lengths),
    }


def padded_tokens(lengths: Sequence[int], batch_size: int, pad_to: int | None = None, by_length: bool = False) -> int:
    """Token positions a model processes for these sequence lengths: padded to `pad_to`, else to each batch's longest."""
    if pad_to is not None:
        return pad_to * len(lengths)
    ordered = sorted(lengths) if by_length else list(lengths)
    return sum(max(ordered[i : i + batch_size]) * len(ordered[i : i + batch_size]) for i in range(0, len(ordered), batch_size))


def unknown_token_share(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> float:
    """Share of tokens that the tokenizer could only encode as its unknown token."""
    ids = [i for encoded in tokenizer(list(texts), add_special_tokens=False)["input_ids"] for i in encoded]
    return sum(i == tokenizer.unk_token_id for i in ids) / max(1, len(ids))
