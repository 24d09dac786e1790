"""data_samples/text_statistics.py: the corpus statistics build.py writes into the datasheets."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data_samples"))
import text_statistics  # noqa: E402


def test_near_duplicate_pairs_find_reworded_copies_only():
    texts = ["the room was clean and the staff were kind", "the room was clean and the staff were rude", "no"]
    assert [(a, b) for a, b, _ in text_statistics.near_duplicate_pairs(texts)] == [(0, 1)]


def test_distinct_bigram_ratio_counts_repeated_word_pairs():
    assert text_statistics.distinct_bigram_ratio(["a b a b"]) == 2 / 3
    assert text_statistics.distinct_bigram_ratio(["one", ""]) == 0


def test_longest_common_template_needs_five_texts():
    texts = [f"thanks for the fast delivery number {i}" for i in range(5)] + ["something else entirely"]
    assert text_statistics.longest_common_template(texts) == ("thanks for the fast delivery number", 5)
    assert text_statistics.longest_common_template(texts[:4]) == ("", 0)
