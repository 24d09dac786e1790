"""Corpus statistics for the datasheets: near-duplicate pairs, bigram diversity, shared templates.

Used by: data_samples/build.py
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

from sft_helpers.data import dedup_key


def shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    """The set of word `size`-grams of a text (its whole word list when shorter)."""
    words = dedup_key(text).split()
    return {tuple(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


def near_duplicate_pairs(texts: Sequence[str], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """Pairs of texts whose word-trigram Jaccard similarity reaches `threshold`."""
    sets = [shingles(t) for t in texts]
    index = defaultdict(set)
    for row, grams in enumerate(sets):
        for gram in grams:
            index[gram].add(row)
    pairs = set()
    for row, grams in enumerate(sets):
        for other in set().union(*(index[g] for g in grams)) if grams else set():
            if other > row:
                similarity = len(grams & sets[other]) / len(grams | sets[other])
                if similarity >= threshold:
                    pairs.add((row, other, round(similarity, 3)))
    return sorted(pairs)


def distinct_bigram_ratio(texts: Iterable[str]) -> float:
    """Distinct word bigrams over all word bigrams, within texts (1.0 means no pair of words repeats)."""
    bigrams = [pair for text in texts for pair in zip(dedup_key(text).split(), dedup_key(text).split()[1:])]
    return len(set(bigrams)) / max(1, len(bigrams))


def longest_common_template(texts: Sequence[str], min_share: float = 0.01) -> tuple[str, int]:
    """The longest word n-gram found in at least `min_share` of the texts (at least 5), and its text count."""
    needed = max(5, round(min_share * len(texts)))
    best, best_count = "", 0
    for size in range(1, 30):
        counts = defaultdict(int)
        for text in texts:
            words = dedup_key(text).split()
            for gram in {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}:
                counts[gram] += 1
        frequent = [(count, gram) for gram, count in counts.items() if count >= needed]
        if not frequent:
            break
        best_count, best = max(frequent)
    return best, best_count
