"""The course's data sets keep their promises: size, balance, leakage, planted noise, agreement and shortcut targets."""
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from sft_helpers import cleaning, data

ROOT = Path(__file__).resolve().parents[1] / "data_samples"
sys.path.insert(0, str(ROOT))
import shortcuts  # noqa: E402  (data_samples/shortcuts.py: the measures the datasheets state)
import text_statistics  # noqa: E402  (data_samples/text_statistics.py: near-duplicate pairs)

SOURCES = {"reviews": ["reviews.csv", "short.csv"], "news": ["news.csv"], "translation": ["translation.csv"]}


def frame(*parts: str) -> pd.DataFrame:
    """A data file as strings, empty cells kept as empty strings."""
    return pd.DataFrame(data.check_csv(ROOT.joinpath(*parts), []))


def source(name: str) -> pd.DataFrame:
    """Every hand-written row of a data set's training sources."""
    return pd.concat([frame(name, file) for file in SOURCES[name]], ignore_index=True)


def splits_of(name: str) -> dict[str, pd.DataFrame]:
    return {split: frame(name, f"{split}.csv") for split in data.SPLITS}


def model_text(name: str, rows: pd.DataFrame) -> list[str]:
    """The text a classifier reads: the review, or `title. description`."""
    return list(rows["text"]) if name == "reviews" else list(rows["title"] + ". " + rows["description"])


def test_built_files_and_datasheet_statistics_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name, text, minimum", [("reviews", "text", 1900), ("news", "description", 1200),
                                                 ("translation", "en", 1700)])
def test_size_distinct_texts_and_no_near_duplicates(name, text, minimum):
    rows = source(name)
    assert len(rows) >= minimum
    assert rows["id"].is_unique and rows[text].map(data.dedup_key).is_unique
    # "I don't know." and "I don't know how." may both stay
    longer = [t for t in rows[text] if cleaning.word_count(t) >= 5]
    assert text_statistics.near_duplicate_pairs(longer) == []


@pytest.mark.parametrize("name, key", [("reviews", "text"), ("news", "title"), ("translation", "zh")])
def test_splits_cover_the_sources_without_leakage(name, key):
    splits = splits_of(name)
    rows = source(name)
    assert sorted(pd.concat(splits.values())["id"]) == sorted(rows["id"])
    assert data.leaked_texts({split: list(part[key]) for split, part in splits.items()}) == {}
    assert [round(len(part) / len(rows), 2) for part in splits.values()] == [0.8, 0.1, 0.1]


def test_reviews_lengths_labels_balance_and_short_share():
    reviews = source("reviews")
    words = reviews["text"].map(cleaning.word_count)
    assert words.between(2, 80).all() and 0.25 <= words.between(4, 15).mean() <= 0.45
    assert (reviews["stars"].astype(int).map(cleaning.sentiment_from_stars) == reviews["sentiment"]).all()
    shares = reviews["sentiment"].value_counts(normalize=True)
    assert set(shares.index) == set(data.SENTIMENTS) and shares.min() > 0.25
    assert set(frame("reviews", "short.csv")["tone"]) == {"plain", "mixed", "sarcastic", "lukewarm"}


def test_news_balance_and_description_spread():
    news = source("news")
    shares = news["label"].value_counts(normalize=True)
    assert set(shares.index) == set(data.NEWS_TOPICS) and shares.between(0.22, 0.28).all()
    words = news["description"].map(cleaning.word_count)
    assert words.between(15, 60).mean() >= 0.9 and words.quantile(0.9) - words.quantile(0.1) >= 15


def test_translation_lengths():
    pairs = source("translation")
    chinese = pairs["zh"].map(lambda text: len(re.findall(r"[\u4e00-\u9fff]", text)))
    assert chinese.between(1, 80).all() and pairs["en"].map(cleaning.word_count).ge(1).all()
    assert chinese.le(6).sum() >= 100 and chinese.ge(25).sum() >= 30
    assert text_statistics.near_duplicate_pairs([" ".join(text) for text in pairs["zh"]]) == []


def test_clean_reviews_survive_cleaning_unchanged():
    texts = source("reviews")["text"]
    assert (texts.map(cleaning.clean_text) == texts).all()
    assert texts.map(cleaning.looks_english).all()


def truth_and_raw() -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame("reviews", "raw_truth.csv"), frame("reviews", "raw.csv")


def test_raw_answer_key_matches_the_raw_rows_and_the_clean_set():
    truth, raw = truth_and_raw()
    clean = source("reviews").set_index("id")
    assert list(truth["id"]) == list(raw["id"])
    kept = truth[truth["in_clean_set"] == "1"]
    assert sorted(kept["source_id"]) == sorted(clean.index)
    untouched = truth["problems"] == ""
    assert (raw.loc[untouched, "text"].values == clean.loc[truth.loc[untouched, "source_id"], "text"].values).all()
    from_clean = truth["source_id"].isin(clean.index)
    expected = clean.loc[truth.loc[from_clean, "source_id"], "sentiment"].values
    assert (truth.loc[from_clean, "true_sentiment"].values == expected).all()


def test_raw_label_noise_is_planted_at_the_stated_rate():
    truth, raw = truth_and_raw()
    from_clean = truth["source_id"].isin(source("reviews")["id"])
    noisy = truth["problems"].str.contains("wrong label", regex=False)
    assert 0.05 <= noisy[from_clean].mean() <= 0.10 and not noisy[~from_clean].any()
    given, _ = cleaning.normalise_labels(raw["sentiment"], cleaning.SENTIMENT_SPELLINGS)
    wrong = pd.Series(given) != truth["true_sentiment"]
    assert (wrong[noisy]).all() and not wrong[from_clean & ~noisy].any()


def test_raw_collection_holds_every_planted_kind_and_typos_the_fixer_cannot_mend():
    truth, raw = truth_and_raw()
    kinds = truth["problems"].str.split("; ").explode()
    for kind in ["paraphrased re-post", "mojibake (UTF-8 read as cp1252)", "emoji", "truncated text",
                 "spam or advertising", "mixed-language", "typos (keyboard slips, dropped or doubled letters)",
                 "exact duplicate", "non-English", "missing label", "conflicting labels (same text twice)"]:
        assert (kinds == kind).sum() >= 10, kind
    typos = truth["problems"] == "typos (keyboard slips, dropped or doubled letters)"
    assert (raw.loc[typos, "text"].map(cleaning.fix_spelling) == raw.loc[typos, "text"]).all()
    rows = raw
    for name, step in cleaning.REVIEW_CLEANING_STEPS:
        before, rows = len(rows), step(rows).reset_index(drop=True)
        assert len(rows) < before or not name.startswith("drop"), name


def test_annotations_cover_the_clean_set_with_realistic_agreement():
    annotations = frame("reviews", "annotations.csv")
    clean = source("reviews").set_index("id")
    assert sorted(annotations["id"]) == sorted(clean.index)
    assert (annotations.set_index("id")["text"] == clean.loc[annotations["id"], "text"]).all()
    for column in ("annotator_a", "annotator_b", "adjudicated"):
        assert set(annotations[column]) <= set(data.SENTIMENTS)
    a, b = annotations["annotator_a"], annotations["annotator_b"]
    assert 0.5 <= cohen_kappa_score(a, b) <= 0.8
    for name in data.SENTIMENTS:
        assert 0.5 <= cohen_kappa_score(a == name, b == name) <= 0.8, name
    assert (annotations.loc[a == b, "adjudicated"] == a[a == b]).all()


@pytest.mark.parametrize("name, label", [("reviews", "sentiment"), ("news", "label")])
def test_first_word_classifier_is_at_most_ten_points_above_the_majority_class(name, label):
    splits = splits_of(name)
    train = list(zip(model_text(name, splits["train"]), splits["train"][label]))
    test = list(zip(model_text(name, splits["test"]), splits["test"][label]))
    scores = shortcuts.shortcut_scores(train, test, shortcuts.REVIEW_CUES if name == "reviews" else shortcuts.NEWS_CUES)
    assert scores["first word only"] <= scores["majority class"] + 0.10
    assert scores["bag-of-words logistic regression"] > scores["majority class"] + 0.15


def test_news_spelling_variants_carry_no_class_information():
    news = source("news")
    _, p_value, information = shortcuts.spelling_dependence(list(zip(model_text("news", news), news["label"])),
                                                           data.NEWS_TOPICS)
    assert p_value > 0.05 and information < 0.05


@pytest.mark.parametrize("name, key, columns, minimum", [
    ("reviews", "text", ["text", "stars", "sentiment", "domain", "register"], 250),
    ("news", "description", ["title", "description", "label"], 150),
    ("translation", "zh", ["zh", "en"], 120)])
def test_shifted_test_sets_are_apart_from_the_training_sources(name, key, columns, minimum):
    shifted = frame(name, "shifted.csv")
    assert len(shifted) >= minimum and shifted["id"].is_unique and (shifted[columns] != "").all().all()
    assert not shifted[key].map(data.dedup_key).isin(set(source(name)[key].map(data.dedup_key))).any()
