"""Lesson 01's cleaning: text repairs, label normalisation, language and duplicate checks, the review cleaning steps.

Used in lessons: 01, 08
"""
from __future__ import annotations

import html
import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable, Sequence

import pandas as pd

from sft_helpers.data import dedup_key, parse_stars

SENTIMENT_SPELLINGS = {
    "negative": "negative", "neg": "negative", "-": "negative", "bad": "negative",
    "1 star": "negative", "2 stars": "negative",
    "neutral": "neutral", "neu": "neutral", "0": "neutral", "3 stars": "neutral",
    "positive": "positive", "pos": "positive", "+": "positive", "good": "positive",
    "4 stars": "positive", "5 stars": "positive",
}
SPELLING_CORRECTIONS = {
    "teh": "the", "becuase": "because", "thier": "their", "excelent": "excellent", "comfortible": "comfortable",
    "experiance": "experience", "pritty": "pretty", "beautifull": "beautiful", "untill": "until",
    "seperate": "separate", "wierd": "weird", "restaraunt": "restaurant", "dissapointed": "disappointed",
    "recieve": "receive", "definately": "definitely", "occured": "occurred", "accomodation": "accommodation",
    "beleive": "believe", "tommorow": "tomorrow",
}
BOILERPLATE = re.compile(
    r"\s*(?:\[?Posted via (?:the )?app\]?|Read more\.*|Sent from my (?:iPhone|Android|phone)|"
    r"Was this review helpful\?(?: Yes / No)?|\(more photos at [^)]*\))\s*",
    re.IGNORECASE,
)
URL = re.compile(r"\s*(?:https?://|www\.)\S+", re.IGNORECASE)
HTML_TAG = re.compile(r"<[^>]{1,80}>")
ENGLISH_WORDS = frozenset(
    "the a an and or but is are was were be been it this that i you he she we they my your our not no "
    "of to in on for with at by from as so very too just all have has had do did does can will would "
    "what when there here than then them me us his her its about out up more most only really good bad".split()
)
FOREIGN_WORDS = frozenset(  # function words of French, Spanish, German, Portuguese, Italian, Dutch, Polish, Turkish
    "le la les et est une des du pas très mais avec el los las es muy pero para una por del "
    "der das und ist nicht sehr mit ein eine aber für os não mas muito com il di che gli sono "
    "het een en de ik niet zijn ook bardzo nie jest się że bir ve çok bu için".split()
)


def normalise_label(value: str | None, table: dict[str, str]) -> str | None:
    """Map a label spelling to its canonical name by `table`; None when missing; KeyError when unknown."""
    key = (value or "").strip().lower()
    if not key:
        return None
    if key not in table:
        raise KeyError(value)
    return table[key]


def normalise_labels(values: Iterable[str], table: dict[str, str]) -> tuple[list[str | None], dict[str, list[int]]]:
    """Canonical labels (None where missing or unknown) and a report of unknown spellings by row."""
    labels, unknown = [], defaultdict(list)
    for row, value in enumerate(values, start=1):
        try:
            labels.append(normalise_label(value, table))
        except KeyError:
            labels.append(None)
            unknown[value].append(row)
    return labels, dict(unknown)


def sentiment_from_stars(stars: int) -> str:
    """The documented rule: 1-2 stars negative, 3 neutral, 4-5 positive."""
    return "negative" if stars <= 2 else "neutral" if stars == 3 else "positive"


def strip_html(text: str) -> str:
    """Remove HTML tags (each becomes a space) and decode entities such as &amp; and &#39;."""
    return html.unescape(HTML_TAG.sub(" ", text))


def remove_urls_and_boilerplate(text: str) -> str:
    """Drop links and platform boilerplate ('Read more', 'Posted via app', ...)."""
    return URL.sub(" ", BOILERPLATE.sub(" ", text))


def normalise_whitespace(text: str) -> str:
    """Collapse runs of spaces, tabs and newlines to one space; trim the ends."""
    return " ".join(text.split())


def fix_spelling(text: str, corrections: dict[str, str] = SPELLING_CORRECTIONS) -> str:
    """Replace known misspellings by whole word, keeping an initial capital."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, corrections)) + r")\b", re.IGNORECASE)

    def correct(match: re.Match) -> str:
        word = corrections[match.group(0).lower()]
        return word.capitalize() if match.group(0)[0].isupper() else word

    return pattern.sub(correct, text)


def clean_text(text: str | None) -> str:
    """The whole text-cleaning chain: HTML, links and boilerplate, whitespace, spelling."""
    text = strip_html(text or "")
    return fix_spelling(normalise_whitespace(remove_urls_and_boilerplate(text)))


def word_count(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


def looks_english(text: str) -> bool:
    """A cheap language check: mostly ASCII letters, and fewer foreign than English function words."""
    letters = [c for c in text if c.isalpha()]
    if not letters or sum(c.isascii() for c in letters) / len(letters) < 0.9:
        return False
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
    foreign = sum(w in FOREIGN_WORDS for w in words)
    return foreign == 0 or foreign < sum(w in ENGLISH_WORDS for w in words)


def duplicate_groups(texts: Sequence[str], key: Callable[[str], str] = str) -> list[list[int]]:
    """Groups of row indices whose texts share a key (exact duplicates with the default key)."""
    groups = defaultdict(list)
    for index, text in enumerate(texts):
        groups[key(text)].append(index)
    return [rows for rows in groups.values() if len(rows) > 1]


def label_conflicts(texts: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Groups of near-duplicate rows that carry different labels."""
    return [rows for rows in duplicate_groups(texts, dedup_key) if len({labels[i] for i in rows}) > 1]


def clean_review_texts(frame: pd.DataFrame) -> pd.DataFrame:
    """Step 1: clean every text (HTML, links, boilerplate, whitespace, spelling)."""
    return frame.assign(text=frame["text"].map(clean_text))


def drop_too_short(frame: pd.DataFrame, min_words: int = 3) -> pd.DataFrame:
    """Step 2: drop empty texts and texts shorter than `min_words` words."""
    return frame[frame["text"].map(word_count) >= min_words]


def drop_non_english(frame: pd.DataFrame) -> pd.DataFrame:
    """Step 3: drop texts that do not look English."""
    return frame[frame["text"].map(looks_english)]


def review_label_problem(stars: int | None, sentiment: str | None, raw_sentiment: str) -> str:
    """Why a review's labels cannot be used ('' when they can)."""
    if stars is None or sentiment is None:
        return f"unknown label {raw_sentiment.strip()!r}" if raw_sentiment.strip() and sentiment is None else "missing"
    return "" if sentiment_from_stars(stars) == sentiment else "stars contradict sentiment"


def normalise_review_labels(frame: pd.DataFrame, path: str | Path = "<reviews>") -> pd.DataFrame:
    """Step 4: canonical stars and sentiment by explicit tables; a `label_problem` column says what is wrong."""
    stars = parse_stars(frame["stars"], path)
    sentiments, _ = normalise_labels(frame["sentiment"], SENTIMENT_SPELLINGS)
    problems = [review_label_problem(*row) for row in zip(stars, sentiments, frame["sentiment"])]
    return frame.assign(stars=stars, sentiment=sentiments, label_problem=problems)


def drop_label_problems(frame: pd.DataFrame) -> pd.DataFrame:
    """Step 5: drop rows whose labels are missing, unknown or contradictory."""
    return frame[frame["label_problem"] == ""].drop(columns="label_problem").astype({"stars": int})


def drop_label_conflicts(frame: pd.DataFrame, label: str = "sentiment") -> pd.DataFrame:
    """Step 6: drop every copy of a text that appears with different labels (we cannot tell which is right)."""
    conflicting = {i for rows in label_conflicts(list(frame["text"]), list(frame[label])) for i in rows}
    return frame[[i not in conflicting for i in range(len(frame))]]


def drop_duplicates(frame: pd.DataFrame, key: Callable[[str], str] = str) -> pd.DataFrame:
    """Steps 7 and 8: keep the first of each group of texts with equal `key` (exact, or `dedup_key`)."""
    return frame[~frame["text"].map(key).duplicated(keep="first").to_numpy()]


def drop_near_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Step 8: keep the first of each group of texts equal up to case, punctuation and spacing."""
    return drop_duplicates(frame, dedup_key)


REVIEW_CLEANING_STEPS: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame]]] = [
    ("clean texts", clean_review_texts),
    ("drop too short", drop_too_short),
    ("drop non-English", drop_non_english),
    ("normalise labels", normalise_review_labels),
    ("drop missing, unknown or contradictory labels", drop_label_problems),
    ("drop texts with conflicting labels", drop_label_conflicts),
    ("drop exact duplicates", drop_duplicates),
    ("drop near-duplicates", drop_near_duplicates),
]


def flip_labels(labels: Sequence[str], share: float, names: Sequence[str], seed: int = 0) -> list[str]:
    """Simulate careless labelling: replace a random `share` of labels by a different, random class."""
    rng = random.Random(seed)
    flipped = list(labels)
    for index in rng.sample(range(len(flipped)), round(share * len(flipped))):
        flipped[index] = rng.choice([name for name in names if name != flipped[index]])
    return flipped
