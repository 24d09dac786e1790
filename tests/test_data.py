"""sft_helpers.data: loading with clear errors, star ratings, a task's splits without leakage, tokenisation."""
import pytest

import torch

from sft_helpers import data
from sft_helpers.data import DataError
from sft_helpers.tasks import own_task


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_loads_a_csv_through_datasets_with_every_column_as_text(tmp_path):
    path = write(tmp_path / "r.csv", 'id,text,stars\n1,"Nice, cheap",5\n2,Awful,\n')
    loaded = data.load_csv_dataset(path, ["id", "text", "stars"])
    assert loaded["text"] == ["Nice, cheap", "Awful"] and loaded["stars"] == ["5", ""]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="nope.csv: file not found; check the path"):
        data.check_csv(tmp_path / "nope.csv", ["text"])


def test_empty_file_is_named(tmp_path):
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        data.check_csv(write(tmp_path / "empty.csv", "\n \n"), ["text"])


def test_missing_column_is_named_with_the_header(tmp_path):
    path = write(tmp_path / "r.csv", "id,body\n1,hello\n")
    with pytest.raises(DataError, match=r"r.csv: missing column\(s\) \['text'\]; the file has the columns \['id', 'body'\]"):
        data.check_csv(path, ["id", "text"])


def test_wrong_encoding_names_file_row_and_column(tmp_path):
    path = write(tmp_path / "latin.csv", "id,text\n1,fine\n2,caf\xe9 cr\xe8me\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"latin.csv, row 2, column 'text': not valid UTF-8"):
        data.check_csv(path, ["id", "text"])


def test_ragged_row_is_named(tmp_path):
    path = write(tmp_path / "r.csv", "id,text\n1,ok\n2,too,many\n")
    with pytest.raises(DataError, match="r.csv, row 2: expected 2 fields"):
        data.check_csv(path, ["id", "text"])


def test_jsonl_rows_are_read_as_text_with_clear_errors(tmp_path):
    path = write(tmp_path / "r.jsonl", '{"text": "Nice", "stars": 5}\n\n{"text": "Awful", "stars": null}\n')
    assert data.read_rows(path, ["text", "stars"]) == [{"text": "Nice", "stars": "5"}, {"text": "Awful", "stars": ""}]
    with pytest.raises(DataError, match=r"r.jsonl: missing column\(s\) \['label'\]; the file has the columns"):
        data.read_rows(path, ["text", "label"])
    with pytest.raises(DataError, match="bad.jsonl, row 2: not valid JSON"):
        data.read_rows(write(tmp_path / "bad.jsonl", '{"text": "a"}\n{"text": \n'), ["text"])
    with pytest.raises(DataError, match="latin.jsonl, row 2: not valid UTF-8"):
        data.read_rows(write(tmp_path / "latin.jsonl", '{"t": "a"}\n{"t": "caf\xe9"}\n', "latin-1"), ["t"])
    with pytest.raises(DataError, match="expected a .csv or .jsonl file"):
        data.read_rows(write(tmp_path / "r.txt", "text\n"), ["text"])


def own(tmp_path, text, kind="classification", **given):
    """A task on a CSV written from `text`, columns 'text' and 'y'."""
    return own_task(write(tmp_path / "mine.csv", text), kind, ("text",), "y", **given)


def test_one_file_is_split_stratified_and_without_leakage(tmp_path):
    lines = [f"text number {i} of {label},{label}" for label in "ab" for i in range(20)]
    lines += ["Text number 0 of a!,a"]  # a near-duplicate: must land in the same split as its twin
    task, rows = data.load_task(own(tmp_path, "text,y\n" + "\n".join(lines) + "\n"))
    assert task.labels == ("a", "b") and sum(len(rows[split]) for split in data.SPLITS) == 41 and len(rows["train"]) >= 32
    where = {row["text"]: split for split, split_rows in rows.items() for row in split_rows}
    assert where["Text number 0 of a!"] == where["text number 0 of a"]
    assert all({row["y"] for row in rows[split]} == {"a", "b"} for split in rows)


def test_given_validation_and_test_files_are_kept(tmp_path):
    given = {name: write(tmp_path / f"{name}.csv", "text,y\nx,a\ny,b\n") for name in ("validation", "test")}
    task, rows = data.load_task(own(tmp_path, "text,y\np,a\nq,b\n", validation=given["validation"], test=given["test"]))
    assert [len(rows[split]) for split in data.SPLITS] == [2, 2, 2] and rows["test"][0]["text"] == "x"


def test_regression_targets_become_float32_labels(tmp_path):
    task, rows = data.load_task(own(tmp_path, "text,y\n" + "".join(f"t{i},{i / 2}\n" for i in range(30)), "regression"))
    dataset = data.task_dataset(task, rows["train"]).with_format("torch")
    assert task.labels == () and dataset[:4]["labels"].dtype == torch.float32


def test_star_spellings_are_parsed():
    assert data.parse_stars(["4", "4/5", "4 stars", "four", "★★★★", "4.0", " 1 star ", ""]) == [4] * 6 + [1, None]


def test_unparseable_star_value_names_file_row_and_column():
    with pytest.raises(DataError, match=r"raw.csv, row 3, column 'stars': cannot read 'great'"):
        data.parse_stars(["5", "2", "great"], path="raw.csv")


def test_split_is_stratified_and_keeps_groups_together():
    labels = ["a"] * 100 + ["b"] * 100
    groups = [str(i // 2) for i in range(200)]
    splits = data.stratified_split(labels, groups, seed=1)
    assert [splits.count(name) for name in data.SPLITS] == [160, 20, 20]
    assert all(splits[i] == splits[i + 1] for i in range(0, 200, 2))
    assert sum(1 for s, l in zip(splits, labels) if s == "test" and l == "a") == 10


def test_bad_split_fractions_are_refused():
    with pytest.raises(ValueError, match="sum to 1"):
        data.stratified_split(["a"], ["a"], fractions=(0.8, 0.3, 0.1))


def test_leakage_check_finds_normalised_overlaps():
    leaks = data.leaked_texts({"train": ["Nice hotel!", "Bad"], "test": ["nice hotel", "Fine"]})
    assert leaks == {"nice hotel": ["test", "train"]}


def test_tokenize_truncates_and_collator_pads_per_batch():
    from datasets import Dataset, DatasetDict

    from sft_helpers import load_encoder

    _, tokenizer = load_encoder("minilm")
    dataset = DatasetDict({"train": Dataset.from_dict({"text": ["short one", "a much longer sentence " * 20]})})
    tokens = data.tokenize(dataset, tokenizer, "text", max_length=16)["train"]
    assert [len(ids) for ids in tokens["input_ids"]] == [4, 16]
    batch = data.padding_collator(tokenizer)([{"input_ids": tokens["input_ids"][0]}])
    assert batch["input_ids"].shape == (1, 4)


def test_truncation_cost():
    assert data.truncation_cost([10, 20, 30, 40], max_length=25) == {"texts_truncated": 0.5, "tokens_lost": 0.2}


def test_padded_tokens_fixed_dynamic_and_sorted():
    lengths = [2, 9, 3, 8]
    assert data.padded_tokens(lengths, batch_size=2, pad_to=10) == 40
    assert data.padded_tokens(lengths, batch_size=2) == 9 * 2 + 8 * 2
    assert data.padded_tokens(lengths, batch_size=2, by_length=True) == 3 * 2 + 9 * 2


def test_unknown_token_share_counts_unknown_tokens():
    from sft_helpers import load_encoder

    _, tokenizer = load_encoder("minilm")
    assert data.unknown_token_share(tokenizer, ["good food"]) == 0
    assert data.unknown_token_share(tokenizer, ["咖啡"]) > 0
