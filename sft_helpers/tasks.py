"""What a task is (kind, files, columns, labels, how its text is assembled): the course's tasks as data, yours as one more.

Used in lessons: 06, 07, 09, 10, 11
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_ROOT = Path(os.environ.get("SFT_DATA") or Path(__file__).resolve().parents[1] / "data_samples")
SPLITS = ("train", "validation", "test")
DATA = "data"  # the files key of one file that is split into SPLITS on loading
CLASSIFICATION, REGRESSION, SEQ2SEQ = "classification", "regression", "seq2seq"
KINDS = (CLASSIFICATION, REGRESSION, SEQ2SEQ)
SENTIMENTS = ("negative", "neutral", "positive")
NEWS_TOPICS = ("World", "Sports", "Business", "Sci/Tech")
TRANSLATION_SYSTEM_PROMPT = "Translate the user's Chinese sentence into English."
COURSE_COLUMNS = {  # every column of each course data set's files
    "reviews": ["id", "text", "stars", "sentiment", "domain"],
    "news": ["id", "title", "description", "label"],
    "translation": ["id", "zh", "en"],
}


@dataclass(frozen=True)
class Task:
    """A supervised task: where its examples are, what the model reads, and what it must produce."""

    name: str  # short name, shown in reports and model cards
    kind: str  # one of KINDS
    files: dict[str, Path]  # split name -> file; a single DATA file is split on loading
    text_columns: tuple[str, ...]  # joined by `joiner` into the model's input (seq2seq: the source text)
    target_column: str  # the class name, the number, or the target text
    labels: tuple[str, ...] = ()  # class names in the order of the model's outputs; empty: found in the data
    joiner: str = ". "  # how several text columns become one text (news: "title. description")
    instruction: str | None = None  # seq2seq: the system prompt of every chat (None: the model's default)
    description: str = ""  # what the model predicts, in words, for its model card
    license: str | None = None  # the data's license, when known
    metrics: tuple[str, ...] = ("bleu", "chrf")  # seq2seq: how generated texts are scored (metrics.TEXT_METRICS)
    answer_tokens: int = 16  # new tokens an instruction-tuned model's answer may take (16: a label, a short sentence)

    def text(self, row: dict[str, str]) -> str:
        """The model's input text of one row."""
        return self.joiner.join(row[column] for column in self.text_columns)

    @property
    def columns(self) -> list[str]:
        """The columns every file of the task must have."""
        return [*self.text_columns, self.target_column]


def course_files(folder: str) -> dict[str, Path]:
    """The train, validation and test files of a course data set."""
    return {split: DATA_ROOT / folder / f"{split}.csv" for split in SPLITS}


COURSE_TASKS = {
    "sentiment": Task("sentiment", CLASSIFICATION, course_files("reviews"), ("text",), "sentiment", SENTIMENTS,
                      description="the sentiment of a short English review", license="MIT"),
    "news": Task("news", CLASSIFICATION, course_files("news"), ("title", "description"), "label", NEWS_TOPICS,
                 description="the topic of a short English news item (headline + description)", license="MIT"),
    "translation": Task("translation", SEQ2SEQ, course_files("translation"), ("zh",), "en",
                        instruction=TRANSLATION_SYSTEM_PROMPT, license="MIT",
                        description="the English translation of a short everyday Chinese sentence",
                        answer_tokens=40),  # the longest English answer of the course is shorter
}


def course_task(name: str) -> Task:
    """The course task called `name`, or a clear ValueError."""
    if name not in COURSE_TASKS:
        raise ValueError(f"unknown task {name!r}; the course has: {', '.join(COURSE_TASKS)}")
    return COURSE_TASKS[name]


def own_task(
    data: str | Path, kind: str, text_columns: tuple[str, ...], target_column: str,
    validation: str | Path | None = None, test: str | Path | None = None,
) -> Task:
    """A task on your own file(s): one data file split on loading, or given validation and test files."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}")
    given = {"validation": validation, "test": test}
    files = {DATA: Path(data)} | {split: Path(path) for split, path in given.items() if path is not None}
    return Task(Path(data).stem, kind, files, tuple(text_columns), target_column,
                description=f"`{target_column}` from `{' + '.join(text_columns)}` ({kind})")
