"""Shortcut measures for the datasheets: how far cheap cues go on train -> test (used by build.py)."""
from __future__ import annotations

import math
import re
from collections import Counter

from scipy.stats import chi2_contingency
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score

from sft_helpers import data

# Cue-word lists: the words a person would guess first for each class (matched as whole lowercase words).
REVIEW_CUES = {
    "negative": "terrible awful worst horrible broke broken refund waste rude disappointed disappointing useless "
                "avoid never".split(),
    "neutral": "okay ok fine decent average mixed meh alright mediocre but".split(),
    "positive": "great love loved excellent amazing best perfect fantastic wonderful recommend brilliant lovely".split(),
}
NEWS_CUES = {
    "World": "minister president government election parliament talks ceasefire troops refugees treaty protest "
             "protesters opposition".split(),
    "Sports": "wins win beat beats match cup league coach season goal title championship striker final".split(),
    "Business": "shares profit bank market prices company sales investors economy rates stocks revenue".split(),
    "Sci/Tech": "researchers scientists study software app data space satellite chip ai robot users".split(),
}
HEDGE_WORDS = "okay ok fine decent average alright mediocre".split()
# British and American spellings of the same words (regex stems; each side matched as whole words).
SPELLING_PAIRS = [
    (r"(?:kilo|centi|milli)?metres?", r"(?:kilo|centi|milli)?meters?"), (r"litres?", r"liters?"),
    (r"colours?", r"colors?"), (r"favour\w*", r"favor\w*"),
    (r"labour\w*", r"labor\w*"), (r"neighbour\w*", r"neighbor\w*"), (r"honour\w*", r"honor\w*"),
    (r"behaviour\w*", r"behavior\w*"), (r"centres?", r"centers?"), (r"theatres?", r"theaters?"),
    (r"fibres?", r"fibers?"), (r"defence", r"defense"), (r"offences?", r"offenses?"), (r"programmes?", r"programs?"),
    (r"travell(?:ed|ing|ers?)", r"travel(?:ed|ing|ers?)"), (r"cancell(?:ed|ing)", r"cancel(?:ed|ing)"),
    (r"modell(?:ed|ing)", r"model(?:ed|ing)"), (r"aluminium", r"aluminum"), (r"grey", r"gray"),
    (r"catalogues?", r"catalogs?"), (r"analys(?:e|ed|es|ing)", r"analyz(?:e|ed|es|ing)"),
    (r"paediatric\w*", r"pediatric\w*"), (r"manoeuvr\w*", r"maneuver\w*"), (r"jewellery", r"jewelry"),
    (r"per cent", r"percent"), (r"sulphur", r"sulfur"), (r"mould\w*", r"mold\w*"),
    (r"(?:organ|recogn|real|critic|author|privat|apolog|modern|priorit|util|minim|maxim|categor|stabil|mobil|"
     r"subsid|jeopard|legal|normal|central|digit|optim|summar|sympath|capital|character|emphas|special|standard)"
     r"is(?:e|ed|es|ing|ation|ations)",
     r"(?:organ|recogn|real|critic|author|privat|apolog|modern|priorit|util|minim|maxim|categor|stabil|mobil|"
     r"subsid|jeopard|legal|normal|central|digit|optim|summar|sympath|capital|character|emphas|special|standard)"
     r"iz(?:e|ed|es|ing|ation|ations)"),
]
UK_PATTERN = re.compile(r"\b(?:" + "|".join(uk for uk, _ in SPELLING_PAIRS) + r")\b", re.IGNORECASE)
US_PATTERN = re.compile(r"\b(?:" + "|".join(us for _, us in SPELLING_PAIRS) + r")\b", re.IGNORECASE)


def first_word(text: str) -> str:
    """The first word of a text, lowercased, punctuation removed."""
    words = data.dedup_key(text).split()
    return words[0] if words else ""


def majority(labels: list[str]) -> str:
    """The most common label (ties broken by name)."""
    counts = Counter(labels)
    return max(sorted(counts), key=counts.__getitem__)


def accuracy(truth: list[str], guess: list[str]) -> float:
    """Share of equal labels."""
    return sum(t == g for t, g in zip(truth, guess)) / len(truth)


def first_word_guesses(train: list[tuple[str, str]], test_texts: list[str]) -> list[str]:
    """Predict each test text's label as the majority train label of texts with its first word."""
    fallback = majority([label for _, label in train])
    by_word: dict[str, list[str]] = {}
    for text, label in train:
        by_word.setdefault(first_word(text), []).append(label)
    table = {word: majority(labels) for word, labels in by_word.items()}
    return [table.get(first_word(text), fallback) for text in test_texts]


def cue_guesses(cues: dict[str, list[str]], fallback: str, texts: list[str]) -> list[str]:
    """Predict the class whose cue words occur most often; no cue or a tie gives `fallback`."""
    guesses = []
    for text in texts:
        words = Counter(data.dedup_key(text).split())
        hits = {label: sum(words[w] for w in words_of) for label, words_of in cues.items()}
        best = max(hits.values())
        winners = [label for label, count in hits.items() if count == best]
        guesses.append(winners[0] if best > 0 and len(winners) == 1 else fallback)
    return guesses


def bag_of_words_guesses(train: list[tuple[str, str]], test_texts: list[str]) -> list[str]:
    """Predictions of a word-count logistic regression (scikit-learn, default regularisation)."""
    vectoriser = CountVectorizer(lowercase=True)
    features = vectoriser.fit_transform([text for text, _ in train])
    model = LogisticRegression(max_iter=3000).fit(features, [label for _, label in train])
    return list(model.predict(vectoriser.transform(test_texts)))


def shortcut_scores(train: list[tuple[str, str]], test: list[tuple[str, str]],
                    cues: dict[str, list[str]]) -> dict[str, float]:
    """Test accuracy of the majority class, first word, cue words and bag of words, all fitted on train."""
    truth, texts = [label for _, label in test], [text for text, _ in test]
    fallback = majority([label for _, label in train])
    return {
        "majority class": accuracy(truth, [fallback] * len(truth)),
        "first word only": accuracy(truth, first_word_guesses(train, texts)),
        "cue-word lists": accuracy(truth, cue_guesses(cues, fallback, texts)),
        "bag-of-words logistic regression": accuracy(truth, bag_of_words_guesses(train, texts)),
    }


def shortcut_table(scores: dict[str, float]) -> list[str]:
    """Markdown table of shortcut accuracies and their margin over the majority class."""
    base = scores["majority class"]
    lines = ["| classifier (fitted on train, scored on test) | test accuracy | over majority |", "| --- | --- | --- |"]
    return lines + [f"| {name} | {value:.1%} | {100 * (value - base):+.1f} points |" for name, value in scores.items()]


def telling_first_words(rows: list[tuple[str, str]], minimum: int = 8, top: int = 8) -> list[tuple[str, int, str, float]]:
    """First words used by at least `minimum` texts, most class-predictive first: (word, count, class, share)."""
    by_word: dict[str, Counter] = {}
    for text, label in rows:
        by_word.setdefault(first_word(text), Counter())[label] += 1
    found = [(word, sum(c.values()), *c.most_common(1)[0]) for word, c in by_word.items() if sum(c.values()) >= minimum]
    ranked = sorted(((w, n, label, k / n) for w, n, label, k in found), key=lambda r: (-r[3], -r[1], r[0]))
    return ranked[:top]


def cue_share_lines(rows: list[tuple[str, str]], words: list[str], names: tuple[str, ...], what: str) -> str:
    """A sentence giving, per class, the share of texts containing any of `words`."""
    pattern = re.compile(r"\b(?:" + "|".join(words) + r")\b")
    shares = []
    for name in names:
        texts = [data.dedup_key(t) for t, label in rows if label == name]
        shares.append(f"{name} {sum(bool(pattern.search(t)) for t in texts) / len(texts):.0%}")
    return f"Share of texts containing {what} ({', '.join(words)}): " + ", ".join(shares) + "."


def spelling_variety(text: str) -> str:
    """'UK', 'US', 'both' or 'none': which spelling variants a text uses."""
    uk, us = bool(UK_PATTERN.search(text)), bool(US_PATTERN.search(text))
    return "both" if uk and us else "UK" if uk else "US" if us else "none"


def spelling_dependence(rows: list[tuple[str, str]], names: tuple[str, ...]) -> tuple[list[str], float, float]:
    """Per-class counts of UK/US spellings (table lines), the chi-square p-value and mutual information in bits."""
    varieties = [(spelling_variety(text), label) for text, label in rows]
    counts = Counter(varieties)
    lines = ["| class | UK spelling only | US spelling only | both | neither |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {n} | {counts[('UK', n)]} | {counts[('US', n)]} | {counts[('both', n)]} | {counts[('none', n)]} |"
              for n in names]
    used = [(v, label) for v, label in varieties if v in ("UK", "US")]
    table = [[counts[(v, n)] for v in ("UK", "US")] for n in names]
    table = [row for row in table if sum(row) > 0]
    if len(table) < 2 or min(sum(col) for col in zip(*table)) == 0:
        return lines, 1.0, 0.0
    p_value = float(chi2_contingency(table)[1])
    information = mutual_info_score([v for v, _ in used], [label for _, label in used]) / math.log(2)
    return lines, p_value, float(information)
