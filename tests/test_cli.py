"""The `sft-course` command line: course tasks and your own files, one and two processes, the loop's settings honoured,
one-line errors for bad input, and no half-written folders."""
import csv
import hashlib
import json
import os
import subprocess
import sys

import pytest
from accelerate import Accelerator

from sft_helpers import cli, recipes
from sft_helpers.cli import build_parser, main, train_config
from sft_helpers.data import DATA_ROOT, NEWS_TOPICS
from sft_helpers.finetuned import (
    FineTunedClassifier, FineTunedGenerator, FineTunedInstruct, FineTunedRegressor, load_finetuned,
)
from sft_helpers.instruct import HELDOUT, load_phrasings
from sft_helpers.tasks import COURSE_TASKS

HEADLINE = "Stocks fell sharply after the central bank raised rates."
QUICK = ["--max-examples", "64", "--epochs", "1"]
TOPICS = {
    "sport": (["The striker", "Our goalkeeper", "The home team", "The coach", "A young sprinter"],
              ["scored twice in the final", "won the match after extra time", "broke the national record",
               "lost the derby on penalties", "signed for a rival club"]),
    "food": (["The soup", "This bakery", "The new cafe", "Grandma's curry", "The street stall"],
             ["tastes of fresh basil", "sells the best sourdough in town", "serves spicy noodles", "needs more salt",
              "makes crisp pancakes"]),
    "weather": (["Heavy rain", "A cold front", "The heatwave", "Thick fog", "Strong wind"],
                ["is expected tomorrow morning", "will bring snow to the hills", "closed the coastal road",
                 "delayed flights at the airport", "should clear by the weekend"]),
}
ROWS = [{"sentence": f"{subject} {predicate}.", "topic": topic}
        for topic, (subjects, predicates) in TOPICS.items() for subject in subjects for predicate in predicates]
MINE, OTHER = ROWS[0::5] + ROWS[1::5] + ROWS[2::5] + ROWS[3::5], ROWS[4::5]  # 60 to train on, 15 others
OWN = ["--text-column", "sentence", "--label-column", "topic"]


def write_csv(path, rows, columns=("sentence", "topic")):
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def run(argv) -> None:
    """Run the command line with these arguments (paths allowed)."""
    main([str(arg) for arg in argv])


def fails(argv, capsys) -> str:
    """Run the command, expect exit code 2 and no traceback; return what it printed on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        run(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err, err
    return err.strip()


def test_train_then_predict_and_evaluate(tmp_path, capsys):
    main(["train", "news", "--out", str(tmp_path), *QUICK])
    report = json.loads((tmp_path / "training_report.json").read_text())
    assert report["processes"] == 1 and report["steps_per_process"] == [2] and len(report["epochs"]) == 1
    assert 0 <= report["val_accuracy"] <= 1 and "val_loss" in report["epochs"][0]
    assert "Fine-tuned news classifier" in (tmp_path / "README.md").read_text()
    out = capsys.readouterr().out
    assert "news: 4 classes in column 'label'" in out and "validation loss" in out

    main(["predict", str(tmp_path), HEADLINE, "The striker scored twice."])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[0] in NEWS_TOPICS and lines[0].endswith(HEADLINE)

    main(["evaluate", str(tmp_path)])
    assert "test.csv (132 examples): accuracy" in capsys.readouterr().out.splitlines()[-1]
    main(["evaluate", str(tmp_path), "--data", str(DATA_ROOT / "news" / "shifted.csv")])
    assert "shifted.csv (200 examples): accuracy" in capsys.readouterr().out.splitlines()[-1]


def test_your_own_csv_end_to_end(tmp_path, capsys):
    mine, other, out = write_csv(tmp_path / "mine.csv", MINE), write_csv(tmp_path / "other.csv", OTHER), tmp_path / "m"
    main(["train", "--data", str(mine), *OWN, "--out", str(out), "--epochs", "3", "--lr", "1e-3"])
    assert capsys.readouterr().out.startswith("mine: 3 classes in column 'topic': food (20), sport (20), weather (20)")
    model = load_finetuned(out)
    assert isinstance(model, FineTunedClassifier) and model.labels == ["food", "sport", "weather"]
    assert [p["label"] for p in model.predict(["The goalkeeper saved a penalty.", "Fresh bread and soup."])] == [
        "sport", "food"]
    splits = {split: list(csv.DictReader((out / "data" / f"{split}.csv").open(encoding="utf-8")))
              for split in ("train", "validation", "test")}
    assert sum(map(len, splits.values())) == 60 and all(len(rows) >= 6 for rows in splits.values())
    config = json.loads((out / "sft_config.json").read_text())
    assert config["data"]["files"]["data"]["sha256"] == hashlib.sha256(mine.read_bytes()).hexdigest()
    assert config["data"]["split_sizes"] == {split: len(rows) for split, rows in splits.items()}
    assert config["hyperparameters"]["lr"] == 1e-3 and config["hyperparameters"]["scheduler"] == "linear"
    card = (out / "README.md").read_text()
    for expected in (str(mine), f"{mine.stat().st_size:,}", "column(s) `sentence`", "column `topic`",
                     "0: `food`, 1: `sport`, 2: `weather`", "| warmup_steps | 0 |", "| max_grad_norm | None |"):
        assert expected in card

    main(["evaluate", str(out), "--data", str(other)])
    printed = capsys.readouterr().out
    assert "sport" in printed and "macro avg" in printed and "other.csv (15 examples): accuracy" in printed
    scores = json.loads((out / "evaluation-other.json").read_text())
    assert scores["examples"] == 15 and scores["accuracy"] >= 0.8 and set(scores["per_class"]) >= set(TOPICS)
    assert (out / "confusion-other.png").read_bytes().startswith(b"\x89PNG")


def test_the_loop_settings_hold_on_the_command_line(tmp_path, monkeypatch, capsys):
    """Clipping, early stopping with patience, and the best epoch's weights restored, in a CLI run."""
    norms, clip = [], Accelerator.clip_grad_norm_

    def spy(self, parameters, max_norm, *args, **kwargs):
        norms.append(max_norm)
        return clip(self, parameters, max_norm, *args, **kwargs)

    monkeypatch.setattr(Accelerator, "clip_grad_norm_", spy)
    shift = {"sport": "food", "food": "weather", "weather": "sport"}  # the better it learns, the worse it does here
    wrong = write_csv(tmp_path / "wrong.csv", [{**row, "topic": shift[row["topic"]]} for row in OTHER])
    out = tmp_path / "m"
    run(["train", "--data", write_csv(tmp_path / "mine.csv", MINE), *OWN, "--validation-data", wrong, "--out", out,
          "--epochs", "6", "--lr", "1e-3", "--patience", "1", "--max-grad-norm", "0.5"])
    report = json.loads((out / "training_report.json").read_text())
    assert report["stopped_early"] and len(report["epochs"]) == report["best_epoch"] + 1 < 6
    best = report["epochs"][report["best_epoch"] - 1]["val_loss"]
    assert report["val_loss"] == pytest.approx(best, abs=1e-5) != report["epochs"][-1]["val_loss"]
    assert set(norms) == {0.5} and len(norms) == 2 * len(report["epochs"])  # every step clipped, 2 steps an epoch
    assert "| patience | 1 |" in (out / "README.md").read_text()


def test_regression_on_your_own_file(tmp_path, capsys):
    rows = [{"sentence": f"{row['sentence']}", "score": str(len(row["sentence"]) / 10)} for row in MINE]
    data = write_csv(tmp_path / "scores.csv", rows, ("sentence", "score"))
    run(["train", "--data", data, "--kind", "regression", "--text-column", "sentence", "--label-column", "score",
          "--out", tmp_path / "r", "--epochs", "1"])
    assert "val_mae" in json.loads((tmp_path / "r" / "training_report.json").read_text())
    model = load_finetuned(tmp_path / "r")
    assert isinstance(model, FineTunedRegressor) and isinstance(model.predict(["Heavy rain."])[0]["value"], float)
    run(["evaluate", tmp_path / "r", "--data", data, "--max-examples", "10"])
    assert "scores.csv (10 examples): mse" in capsys.readouterr().out


def test_generation_pairs_from_a_jsonl_file(tmp_path, capsys):
    pairs = [{"question": f"What is {a} plus {b}?", "answer": f"{a + b}."} for a in range(1, 6) for b in range(1, 5)]
    data = tmp_path / "sums.jsonl"
    data.write_text("".join(json.dumps(pair) + "\n" for pair in pairs), encoding="utf-8")
    run(["train", "--data", data, "--kind", "seq2seq", "--source-column", "question", "--target-column", "answer",
         "--out", tmp_path / "g", "--max-examples", "8"])
    config = json.loads((tmp_path / "g" / "sft_config.json").read_text())
    assert config["system_prompt"] is None and config["data"]["split_sizes"]["validation"] == 2
    assert "val_chrf" in json.loads((tmp_path / "g" / "training_report.json").read_text())
    model = load_finetuned(tmp_path / "g")
    assert isinstance(model, FineTunedGenerator) and isinstance(model.generate(["What is 2 plus 2?"])[0], str)
    run(["evaluate", tmp_path / "g", "--max-examples", "2"])
    assert "test.csv (2 examples): bleu" in capsys.readouterr().out


def test_two_processes_share_the_training_data(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "sft_helpers.cli", "train", "news", "--out", str(tmp_path), *QUICK]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "training_report.json").read_text())
    assert report["processes"] == 2 and report["distributed_type"].endswith("MULTI_CPU")
    assert report["steps_per_process"] == [1, 1]  # 64 examples, 32 a step: each process one of the two batches
    assert load_finetuned(tmp_path).predict([HEADLINE])[0]["label"] in NEWS_TOPICS


def test_predict_on_a_missing_folder_exits_2(tmp_path, capsys):
    assert fails(["predict", tmp_path / "nowhere", HEADLINE], capsys) == (
        f"sft-course predict: error: no such folder: {tmp_path / 'nowhere'}")


@pytest.mark.parametrize("argv, message", [
    (["train", "weather", "--out", "x"], "invalid choice: 'weather'"),
    (["train", "news", "--out", "x", "--epochs", "0"], "must be >= 1, got 0"),
    (["train", "news", "--out", "x", "--epochs", "two"], "invalid positive_int value: 'two'"),
    (["train", "news", "--out", "x", "--warmup-steps", "-1"], "must be >= 0, got -1"),
    (["train", "news", "--out", "x", "--max-grad-norm", "0"], "must be > 0, got 0.0"),
    (["train", "news", "--out", "x", "--trainable-top-layers", "7"], "must be from 0 to 6"),
    (["train", "translation", "--out", "x", "--trainable-top-layers", "31"], "must be from 0 to 30"),
    (["train", "translation", "--out", "x", "--monitor", "accuracy"], "--monitor accuracy is not measured for seq2seq"),
    (["train", "--out", "x"], "name a course task (sentiment, news, translation) or give --data FILE, not both"),
    (["train", "news", "--data", "a.csv", "--out", "x"], "or give --data FILE, not both"),
    (["train", "--data", "a.csv", "--kind", "seq2seq", "--text-column", "t", "--out", "x"],
     "--kind seq2seq needs --source-column and --target-column"),
])
def test_bad_arguments_exit_2(argv, message, tmp_path, capsys):
    assert message in fails([tmp_path / a if a == "x" else a for a in argv], capsys)


@pytest.mark.parametrize("name, text, extra, message", [
    ("none.csv", None, OWN, "none.csv: file not found; check the path"),
    ("a.csv", "text,topic\nhi,a\n", OWN,
     "a.csv: missing column(s) ['sentence']; the file has the columns ['text', 'topic']"),
    ("a.csv", "sentence,topic\n" + "".join(f"{'' if i in (2, 5, 9) else 'hi'},a\n" for i in range(1, 12)), OWN,
     "a.csv: 3 empty value(s) in sentence (row(s) 2, 5, 9); fill them in or remove those rows"),
    ("a.csv", "sentence,topic\n" + "".join(f"text {i},same\n" for i in range(20)), OWN,
     "a.csv: only one class ('same') in column 'topic'; a classifier needs at least two"),
    ("a.csv", "sentence,topic\n" + "".join(f"text {i},big\n" for i in range(20)) + "rare one,small\nrare two,small\n",
     OWN, "a.csv: class 'small' has only 2 example(s), too few to split into train, validation, test"),
    ("a.csv", "sentence,score\nfine,3.5\nbad,three\n", ["--kind", "regression", "--text-column", "sentence",
                                                        "--label-column", "score"],
     "a.csv, row 2, column 'score': cannot read 'three' as a number"),
    ("a.csv", "sentence,topic\ncaf\xe9,a\n", OWN, "a.csv, row 1, column 'sentence': not valid UTF-8 (byte 0xe9)"),
])
def test_bad_data_is_one_line_naming_the_problem(tmp_path, capsys, name, text, extra, message):
    argv = ["train", "--data", tmp_path / name, "--out", tmp_path / "out", *extra]
    if text is not None:
        (tmp_path / name).write_bytes(text.encode("latin-1" if "\xe9" in text else "utf-8"))
    err = fails(argv, capsys)
    assert message in err and len(err.splitlines()) == 1 and err.startswith("sft-course train: error: ")
    assert not (tmp_path / "out").exists()


def test_an_out_folder_with_another_model_is_refused_unless_overwrite(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sft_config.json").write_text('{"task": "news"}')
    (tmp_path / "a.csv").write_text("sentence,topic\n")
    argv = ["train", "--data", tmp_path / "a.csv", *OWN, "--out", tmp_path / "out"]
    assert fails(argv, capsys).endswith(f"--out {tmp_path / 'out'} already holds a model (news); give another "
                                        "folder, or add --overwrite to replace it")
    assert "a.csv: no examples, only a header" in fails([*argv, "--overwrite"], capsys)  # past the check, on to the data
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    assert "already holds other files" in fails([*argv[:-2], "--out", tmp_path / "other", "--overwrite"], capsys)


def test_a_failed_run_leaves_no_folder_behind(tmp_path, monkeypatch):
    def broken(staging, *args):
        (staging / "sft_config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "save_model", broken)
    with pytest.raises(KeyboardInterrupt):
        main(["train", "--data", str(write_csv(tmp_path / "mine.csv", MINE)), *OWN, "--out", str(tmp_path / "m"),
              "--max-examples", "8", "--epochs", "1"])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mine.csv"]


def test_translation_train_then_predict_and_evaluate(tmp_path, capsys):
    main(["train", "translation", "--out", str(tmp_path), "--max-examples", "16"])
    report = json.loads((tmp_path / "training_report.json").read_text())
    assert report["steps_per_process"] == [2] and 0 <= report["val_chrf"] <= 100
    assert 0 <= report["val_chrf_zero_shot"] <= 100
    config = json.loads((tmp_path / "sft_config.json").read_text())
    assert config["hyperparameters"]["batch_size"] == 8 and config["data"]["split_sizes"]["validation"] == 4
    assert config["hyperparameters"]["warmup_steps"] == 5 and config["hyperparameters"]["trainable_top_layers"] == "all"
    assert "Fine-tuned translation generator" in (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "validation loss" in capsys.readouterr().out
    assert isinstance(load_finetuned(tmp_path), FineTunedGenerator)

    main(["predict", str(tmp_path), "我喜欢喝茶。", "你好"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("我喜欢喝茶。  ->  ")

    main(["evaluate", str(tmp_path), "--max-examples", "4"])
    assert "test.csv (4 examples): bleu " in capsys.readouterr().out


def test_instruct_train_then_predict_and_evaluate(tmp_path, capsys):
    main(["train", "instruct", "--out", str(tmp_path), "--max-examples", "8", "--batch-size", "4",
          "--eval-examples", "2"])
    report = json.loads((tmp_path / "training_report.json").read_text())
    assert report["steps_per_process"][0] in (2, 4) and 0 <= report["general_probe_accuracy"] <= 1
    assert 0 <= report["validation_news_accuracy_heldout_phrasings"] <= 1
    assert 0 <= report["validation_translation_chrf_train_phrasings"] <= 100
    config = json.loads((tmp_path / "sft_config.json").read_text())
    assert (config["kind"], config["general_share"], config["hyperparameters"]["patience"]) == ("instruct", 0.1, None)
    assert config["data"]["split_sizes"] == {"train": 8, "validation": 6}
    assert report["cache_seconds"] > 0 and config["hyperparameters"]["trainable_top_layers"] == recipes.INSTRUCT.trainable_top_layers
    with (tmp_path / "data" / "train.csv").open(encoding="utf-8") as file:
        phrasings = [row["phrasing"] for row in csv.DictReader(file)]
    assert len(phrasings) == 8 and not set(phrasings) & {p.id for p in load_phrasings() if p.split == HELDOUT}
    assert "Fine-tuned instruction model" in (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "Saved to" in capsys.readouterr().out
    assert isinstance(load_finetuned(tmp_path), FineTunedInstruct)

    main(["predict", str(tmp_path), "What is the capital of France?"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("What is the capital of France?  ->  ")

    main(["evaluate", str(tmp_path), "--max-examples", "2"])
    assert "instruct on the test items: test_news_accuracy_train_phrasings " in capsys.readouterr().out
    assert fails(["train", "instruct", "--out", str(tmp_path / "x"), "--general-share", "1"], capsys).endswith(
        "must be >= 0 and < 1, got 1.0")


def test_instruct_defaults_are_the_lesson_recipe():
    args = build_parser().parse_args(["train", "instruct", "--out", "x"])
    assert recipes.INSTRUCT.model == recipes.DECODER_MODEL == "smollm2-135m"
    assert (args.general_share, args.eval_examples, recipes.INSTRUCT.config.eval_every,
            recipes.INSTRUCT.config.patience) == (recipes.GENERAL_SHARE, recipes.EVAL_EXAMPLES, None, None)
    assert recipes.INSTRUCT.trainable_top_layers == 4 and recipes.TRAIN_SIZE >= 2000


@pytest.mark.parametrize("task, expected", [
    ("news", {"epochs": 2, "batch_size": 32, "warmup_steps": 0, "lr": 1e-4, "max_grad_norm": None}),
    ("translation", {"epochs": 1, "batch_size": 8, "warmup_steps": 5, "lr": 1e-4, "max_grad_norm": None}),
])
def test_defaults_follow_the_kind_and_options_override_them(task, expected):
    recipe = recipes.recipe_for(task, COURSE_TASKS[task].kind)
    config = train_config(build_parser().parse_args(["train", task, "--out", "x"]), recipe)
    assert {key: getattr(config, key) for key in expected} == expected
    config = train_config(build_parser().parse_args(["train", task, "--out", "x", "--epochs", "3",
                                                     "--max-grad-norm", "1", "--patience", "2"]), recipe)
    assert (config.epochs, config.max_grad_norm, config.patience) == (3, 1.0, 2)


def test_the_help_shows_each_tasks_recipe_and_where_it_comes_from(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for expected in ("news (classification): the topic of a short English news item",
                     "minilm, top 2 layers, lr 0.0001, batch size 32, 2 epoch(s), 0 warm-up steps, 128 tokens at most",
                     "smollm2-135m, every layer, lr 0.0001, batch size 8, 1 epoch(s), 5 warm-up steps",
                     "smollm2-135m, top 4 layers, lr 0.0005, batch size 8, 2 epoch(s), 20 warm-up steps, 256 tokens",
                     "(lesson 09's full fine-tuning)", "classification as sentiment, news", "seq2seq as translation",
                     "(default classification)", "(default None: no clipping)", "(default 0)", "torchrun"):
        assert expected in help_text
    assert "application lessons' settings" not in help_text
    assert help_text.count(recipes.ENCODER.source) == len(["sentiment", "news"])


def test_your_own_file_takes_the_recipe_of_its_kind_and_a_course_task_its_own():
    assert recipes.recipe_for(None, "regression") is recipes.ENCODER
    assert recipes.recipe_for(None, "seq2seq") is recipes.recipe_for("translation", "seq2seq") is recipes.DECODER
    assert set(recipes.RECIPES) <= set(COURSE_TASKS)
