"""A new task is one registry entry plus its data: a toy generation task (a word in capital letters), registered in
`COURSE_TASKS`, trained for one step through the command line, then used and evaluated with its own metrics."""
import csv
import json

import pytest

from sft_helpers import tasks
from sft_helpers.cli import main
from sft_helpers.tasks import SEQ2SEQ, Task

WORDS = {"train": ["cat", "dog", "sun", "tea"], "validation": ["map", "pen"], "test": ["cup", "box"]}


@pytest.fixture
def upper(tmp_path, monkeypatch):
    """The toy task's three CSV files, and its entry added to the course's tasks for this test only."""
    files = {split: tmp_path / f"{split}.csv" for split in WORDS}
    for split, path in files.items():
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, ["id", "word", "upper"])
            writer.writeheader()
            writer.writerows({"id": f"{split}-{n}", "word": w, "upper": w.upper()} for n, w in enumerate(WORDS[split]))
    task = Task("upper", SEQ2SEQ, files, ("word",), "upper", instruction="Write the user's word in capital letters.",
                description="the word in capital letters", metrics=("exact_match", "chrf"))
    monkeypatch.setitem(tasks.COURSE_TASKS, "upper", task)
    return task


def test_a_registered_generation_task_trains_predicts_and_evaluates(upper, tmp_path, capsys):
    out = tmp_path / "model"
    main(["train", "upper", "--out", str(out), "--max-examples", "4", "--epochs", "1", "--trainable-top-layers", "1"])
    assert capsys.readouterr().out.startswith("upper: seq2seq, train 4, validation 1, test 2")
    report = json.loads((out / "training_report.json").read_text())
    assert report["steps_per_process"] == [1] and 0 <= report["val_exact_match"] <= 100
    assert {"val_chrf", "val_exact_match_zero_shot", "val_chrf_zero_shot"} <= set(report) and "val_bleu" not in report
    config = json.loads((out / "sft_config.json").read_text())
    assert (config["system_prompt"], config["text_metrics"]) == (upper.instruction, ["exact_match", "chrf"])

    main(["predict", str(out), "owl"])
    assert capsys.readouterr().out.startswith("owl  ->  ")
    main(["evaluate", str(out)])
    assert f"upper on {out / 'data' / 'test.csv'} (2 examples): exact_match " in capsys.readouterr().out
    assert set(json.loads((out / "evaluation-test.json").read_text())) == {"data", "examples", "exact_match", "chrf"}
