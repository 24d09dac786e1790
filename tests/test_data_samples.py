"""The course's data sets meet their size, balance, diversity and leakage promises, and raw cleaning is exact."""
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from sft_helpers import data

ROOT = Path(__file__).resolve().parents[1] / "data_samples"


def frame(*parts: str) -> pd.DataFrame:
    """A data file as strings, empty cells kept as empty strings."""
    return pd.DataFrame(data.check_csv(ROOT.joinpath(*parts), []))


def splits_of(name: str) -> dict[str, pd.DataFrame]:
    return {split: frame(name, f"{split}.csv") for split in data.SPLITS}


def test_built_files_and_datasheet_statistics_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "name, source, text, minimum",
    [("reviews", "reviews.csv", "text", 1500), ("news", "news.csv", "description", 1200),
     ("translation", "translation.csv", "en", 1500)],
)
def test_size_distinct_texts_and_no_near_duplicates(name, source, text, minimum):
    rows = frame(name, source)
    assert len(rows) >= minimum
    assert rows["id"].is_unique and rows[text].map(data.dedup_key).is_unique
    assert data.near_duplicate_pairs(list(rows[text])) == []


@pytest.mark.parametrize("name, key", [("reviews", "text"), ("news", "title"), ("translation", "zh")])
def test_splits_cover_the_source_without_leakage(name, key):
    splits = splits_of(name)
    source = frame(name, f"{name}.csv")
    assert sorted(pd.concat(splits.values())["id"]) == sorted(source["id"])
    assert data.leaked_texts({split: list(rows[key]) for split, rows in splits.items()}) == {}
    assert [round(len(rows) / len(source), 2) for rows in splits.values()] == [0.8, 0.1, 0.1]


def test_reviews_lengths_labels_and_balance():
    reviews = frame("reviews", "reviews.csv")
    assert reviews["text"].map(data.word_count).between(3, 80).all()
    assert (reviews["stars"].astype(int).map(data.sentiment_from_stars) == reviews["sentiment"]).all()
    shares = reviews["sentiment"].value_counts(normalize=True)
    assert set(shares.index) == set(data.SENTIMENTS) and shares.min() > 0.25


def test_news_balance():
    shares = frame("news", "news.csv")["label"].value_counts(normalize=True)
    assert set(shares.index) == set(data.NEWS_TOPICS) and shares.between(0.22, 0.28).all()


def test_translation_lengths():
    pairs = frame("translation", "translation.csv")
    chinese = pairs["zh"].map(lambda text: len(re.findall(r"[\u4e00-\u9fff]", text)))
    assert chinese.between(4, 30).all() and pairs["en"].map(data.word_count).ge(2).all()
    assert data.near_duplicate_pairs([" ".join(text) for text in pairs["zh"]]) == []


def test_clean_reviews_survive_cleaning_unchanged():
    texts = frame("reviews", "reviews.csv")["text"]
    assert (texts.map(data.clean_text) == texts).all()
    assert texts.map(data.looks_english).all()


def test_cleaning_the_raw_collection_recovers_the_clean_reviews_exactly():
    clean, log = data.clean_reviews(frame("reviews", "raw.csv"))
    expected = frame("reviews", "reviews.csv").astype({"stars": int})
    columns = ["text", "stars", "sentiment", "domain"]
    assert sorted(map(tuple, clean[columns].values.tolist())) == sorted(map(tuple, expected[columns].values.tolist()))
    assert (log.loc[log["step"].str.startswith("drop"), "removed"] > 0).all()


def test_annotations_are_a_labelled_subset_of_the_clean_reviews():
    annotations = frame("reviews", "annotations.csv")
    reviews = frame("reviews", "reviews.csv").set_index("id")
    assert len(annotations) >= 200 and annotations["id"].isin(reviews.index).all()
    assert (annotations.set_index("id")["text"] == reviews.loc[annotations["id"], "text"]).all()
    for column in ("annotator_a", "annotator_b"):
        assert set(annotations[column]) <= set(data.SENTIMENTS)
    assert Counter(annotations["annotator_a"] == annotations["annotator_b"])[False] > 0
