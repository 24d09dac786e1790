"""sft_helpers.cleaning: lesson 01's text repairs, label tables, language and duplicate checks, cleaning steps."""
import pandas as pd

from sft_helpers import cleaning, data


def test_unknown_labels_are_reported_never_guessed():
    labels, unknown = cleaning.normalise_labels(["Positive", " NEG ", "meh", "", "meh"], cleaning.SENTIMENT_SPELLINGS)
    assert labels == ["positive", "negative", None, None, None]
    assert unknown == {"meh": [3, 5]}


def test_clean_text_removes_html_links_boilerplate_and_fixes_spelling():
    raw = "<p>Beleive me, good &amp; cheap.<br/>Would go again!</p> Read more https://bit.ly/x1 "
    assert cleaning.clean_text(raw) == "Believe me, good & cheap. Would go again!"


def test_language_check_keeps_english_and_drops_others():
    assert cleaning.looks_english("Great value, the staff were lovely.")
    assert not cleaning.looks_english("Service très lent mais la nourriture était bonne.")
    assert not cleaning.looks_english("这家餐厅的菜很好吃")


def test_exact_and_near_duplicates_and_conflicts():
    texts = ["Great food.", "Great food.", "GREAT FOOD", "Slow service", "slow service!"]
    assert cleaning.duplicate_groups(texts) == [[0, 1]]
    assert cleaning.duplicate_groups(texts, data.dedup_key) == [[0, 1, 2], [3, 4]]
    assert cleaning.label_conflicts(texts, ["pos", "pos", "pos", "neg", "pos"]) == [[3, 4]]


def test_review_cleaning_steps_on_a_small_collection():
    raw = pd.DataFrame(
        {
            "text": ["<b>Lovely</b> quiet room, great view.", "ok", "Muy bueno el servicio y la comida.",
                     "Lovely quiet room, great view!", "Cold food and rude staff.", "Cold food and rude staff.",
                     "Nothing special, it works.", "Nothing special, it works.", "The app keeps crashing on start."],
            "stars": ["5", "", "4", "5 stars", "1", "1", "3", "5", ""],
            "sentiment": ["pos", "", "positive", "Positive", "neg", "negative", "neutral", "positive", ""],
        }
    )
    clean, removed = raw, []
    for _, step in cleaning.REVIEW_CLEANING_STEPS:
        before, clean = len(clean), step(clean).reset_index(drop=True)
        removed.append(before - len(clean))
    assert clean.to_dict("records") == [
        {"text": "Lovely quiet room, great view.", "stars": 5, "sentiment": "positive"},
        {"text": "Cold food and rude staff.", "stars": 1, "sentiment": "negative"},
    ]
    assert removed == [0, 1, 1, 0, 1, 2, 1, 1]


def test_flip_labels_changes_exactly_the_share_asked_for():
    labels = ["a", "b", "c"] * 100
    flipped = cleaning.flip_labels(labels, 0.2, ["a", "b", "c"], seed=3)
    assert sum(x != y for x, y in zip(labels, flipped)) == 60 and set(flipped) == {"a", "b", "c"}
