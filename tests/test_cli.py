"""The `sft-course` command line: train (one process, and two under torchrun), predict, evaluate, clear errors."""
import json
import os
import subprocess
import sys

import pytest

from sft_helpers.cli import apply_defaults, build_parser, main
from sft_helpers.data import NEWS_TOPICS
from sft_helpers.finetuned import FineTunedTranslator, load_finetuned

HEADLINE = "Stocks fell sharply after the central bank raised rates."
QUICK = ["--max-examples", "64", "--epochs", "1"]


def test_train_then_predict_and_evaluate(tmp_path, capsys):
    main(["train", "news", "--out", str(tmp_path), *QUICK])
    report = json.loads((tmp_path / "training_report.json").read_text())
    assert report["processes"] == 1 and report["steps_per_process"] == [2] and report["examples_per_process"] == [64]
    assert 0 <= report["val_accuracy"] <= 1
    assert "Fine-tuned news classifier" in (tmp_path / "README.md").read_text()
    assert "validation accuracy" in capsys.readouterr().out

    main(["predict", str(tmp_path), HEADLINE, "The striker scored twice."])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[0] in NEWS_TOPICS and lines[0].endswith(HEADLINE)

    main(["evaluate", str(tmp_path)])
    assert "news test split (132 examples): accuracy" in capsys.readouterr().out


def test_two_processes_share_the_training_data(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "sft_helpers.cli", "train", "news", "--out", str(tmp_path), *QUICK]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((tmp_path / "training_report.json").read_text())
    assert report["processes"] == 2 and report["distributed_type"].endswith("MULTI_CPU")
    assert len(report["steps_per_process"]) == 2 and min(report["steps_per_process"]) > 0
    assert sum(report["examples_per_process"]) >= 64  # each process saw its own share (padded to an even split)
    assert load_finetuned(tmp_path).predict([HEADLINE])[0]["label"] in NEWS_TOPICS


def test_predict_on_a_missing_folder_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", str(tmp_path / "nowhere"), HEADLINE])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"sft-course predict: error: no such folder: {tmp_path / 'nowhere'}"


@pytest.mark.parametrize("argv, message", [
    (["train", "weather", "--out", "x"], "invalid choice: 'weather'"),
    (["train", "news", "--out", "x", "--epochs", "0"], "must be >= 1, got 0"),
    (["train", "news", "--out", "x", "--trainable-top-layers", "7"], "must be from 0 to 6"),
    (["train", "translation", "--out", "x", "--trainable-top-layers", "31"], "must be from 0 to 30"),
])
def test_bad_arguments_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_translation_train_then_predict_and_evaluate(tmp_path, capsys):
    main(["train", "translation", "--out", str(tmp_path), "--max-examples", "16"])
    report = json.loads((tmp_path / "training_report.json").read_text())
    assert report["steps_per_process"] == [2] and report["examples_per_process"] == [16]
    assert 0 <= report["val_chrf"] <= 100 and 0 <= report["val_chrf_zero_shot"] <= 100
    config = json.loads((tmp_path / "sft_config.json").read_text())
    assert config["hyperparameters"]["batch_size_per_process"] == 8 and config["metrics"]["val_pairs"] == 4
    assert "Fine-tuned Chinese-to-English translator" in (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "validation chrF" in capsys.readouterr().out
    assert isinstance(load_finetuned(tmp_path), FineTunedTranslator)

    main(["predict", str(tmp_path), "我喜欢喝茶。", "你好"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("我喜欢喝茶。  ->  ")

    main(["evaluate", str(tmp_path), "--max-examples", "4"])
    assert capsys.readouterr().out.startswith("translation test split (4 pairs): BLEU ")


@pytest.mark.parametrize("task, expected", [
    ("news", {"epochs": 2, "batch_size": 32, "trainable_top_layers": 2, "model": "minilm"}),
    ("translation", {"epochs": 1, "batch_size": 8, "trainable_top_layers": -1, "model": "smollm2-135m"}),
])
def test_defaults_follow_the_task(task, expected):
    args = build_parser().parse_args(["train", task, "--out", "x"])
    apply_defaults(args)
    assert {key: getattr(args, key) for key in expected} == expected and args.lr == 1e-4
    args = build_parser().parse_args(["train", task, "--out", "x", "--epochs", "3"])
    apply_defaults(args)
    assert args.epochs == 3
