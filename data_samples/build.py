"""Build the course's data files from the hand-written sources, and the statistics in each datasheet.

    python data_samples/build.py           # write splits, raw reviews, answer key, annotations, datasheet statistics
    python data_samples/build.py --check   # exit 1 if any built file differs from what is on disk

Sources (written by hand for this course): reviews/{reviews,short,reserve,reposts,spam,mixed_language,shifted}.csv,
news/{news,shifted}.csv, translation/{translation,shifted}.csv. Everything else in data_samples/ is derived from them
here, with fixed seeds: the splits, reviews/raw.csv and its answer key raw_truth.csv, reviews/annotations.csv (simulated
annotators, see annotators.py) and every figure between the statistics markers of the datasheets. The shifted test sets
are only validated and described: they are never used for training or model choice.
"""
from __future__ import annotations

import csv
import io
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import annotators  # noqa: E402
import raw_reviews  # noqa: E402
import shortcuts  # noqa: E402
import text_statistics  # noqa: E402
from sft_helpers import cleaning, data  # noqa: E402

ROOT = Path(__file__).resolve().parent
SEED = 20261125
STATS_START, STATS_END = "<!-- statistics: start (written by build.py) -->", "<!-- statistics: end -->"
REVIEW_COLUMNS = ["id", "text", "stars", "sentiment", "domain"]
NEWS_COLUMNS = ["id", "title", "description", "label"]
TRANSLATION_COLUMNS = ["id", "zh", "en"]
TONES = ("plain", "mixed", "sarcastic", "lukewarm")
TRUTH_COLUMNS = ["id", "source_id", "problems", "true_stars", "true_sentiment", "in_clean_set"]
ANNOTATION_COLUMNS = ["id", "text", "tone", "annotator_a", "annotator_b", "adjudicated"]
CHINESE = re.compile(r"[\u4e00-\u9fff]")
TABLE_HEAD = ["| column | unit | min | 25% | median | 75% | max | mean |", "| --- " * 8 + "|"]


class SourceError(ValueError):
    """A hand-written source file breaks one of its promises."""


def read_rows(path: Path, columns: list[str] | None = None) -> list[dict[str, str]]:
    """Rows of a CSV source file, checked for required non-empty columns and unique ids."""
    rows = data.check_csv(path, columns or [])
    for number, row in enumerate(rows, start=1):
        for column in columns or []:
            if not row[column].strip():
                raise SourceError(f"{path}: row {number} has an empty {column!r}")
    ids = Counter(row["id"] for row in rows if "id" in row)
    if repeated := [i for i, n in ids.items() if n > 1]:
        raise SourceError(f"{path}: repeated ids {repeated[:5]}")
    return rows


def check_labels(rows: list[dict], path: Path, column: str, allowed: tuple[str, ...]) -> None:
    """Every label is one of `allowed`; for reviews, sentiment follows the stars rule."""
    if bad := [row["id"] for row in rows if row[column] not in allowed]:
        raise SourceError(f"{path}: labels outside {allowed} in {bad[:5]}")
    if column == "sentiment":
        if bad := [row["id"] for row in rows if cleaning.sentiment_from_stars(int(row["stars"])) != row["sentiment"]]:
            raise SourceError(f"{path}: sentiment does not follow the stars in {bad[:5]}")


def check_apart(texts: list[str], others: list[str], path: Path) -> None:
    """No text equals or nearly duplicates (word-trigram Jaccard >= 0.5) one of `others`."""
    known = {data.dedup_key(t) for t in others}
    if same := [t for t in texts if data.dedup_key(t) in known]:
        raise SourceError(f"{path}: texts also in the training sources, e.g. {same[0]!r}")
    pairs = [(i, j) for i, j, _ in text_statistics.near_duplicate_pairs(others + texts) if i < len(others) <= j]
    if pairs:
        raise SourceError(f"{path}: near-duplicate of a training text: {texts[pairs[0][1] - len(others)]!r}")


def csv_text(rows: list[dict], columns: list[str]) -> str:
    """Rows as CSV text with a header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def split_rows(rows: list[dict], label: str | None, key: str) -> dict[str, list[dict]]:
    """train/validation/test rows, stratified by `label`, near-duplicate groups kept together."""
    labels = [row[label] if label else "all" for row in rows]
    assigned = data.stratified_split(labels, [data.dedup_key(row[key]) for row in rows], seed=SEED)
    return {split: [row for row, s in zip(rows, assigned) if s == split] for split in data.SPLITS}


def split_files(splits: dict[str, list[dict]], columns: list[str]) -> dict[str, str]:
    """The split CSV texts by file name."""
    return {f"{split}.csv": csv_text(rows, columns) for split, rows in splits.items()}


def quartiles(values: list[int]) -> tuple[float, float, float]:
    """25th, 50th and 75th percentiles (inclusive method)."""
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def length_row(name: str, values: list[int], unit: str) -> str:
    """A Markdown row of length statistics: min, quartiles, max, mean."""
    q1, q2, q3 = quartiles(values)
    return f"| {name} | {unit} | {min(values)} | {q1:g} | {q2:g} | {q3:g} | {max(values)} | {statistics.mean(values):.1f} |"


def share(values: list, test) -> float:
    """Share of values passing `test`."""
    return sum(1 for v in values if test(v)) / len(values)


def class_table(splits: dict[str, list[dict]], label: str, names: tuple[str, ...]) -> list[str]:
    """Markdown table of counts per class and split."""
    lines = ["| class | " + " | ".join(data.SPLITS) + " | total |", "| --- " * (len(data.SPLITS) + 2) + "|"]
    for name in names + ("all",):
        counts = [sum(1 for r in rows if name == "all" or r[label] == name) for rows in splits.values()]
        lines.append(f"| {name} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} |")
    return lines


def diversity_lines(name: str, texts: list[str]) -> list[str]:
    """Markdown lines stating the diversity measures of a text column."""
    template, count = text_statistics.longest_common_template(texts)
    pairs = text_statistics.near_duplicate_pairs(texts)
    return [
        f"- **{name}**: distinct word bigrams / all bigrams = {text_statistics.distinct_bigram_ratio(texts):.3f}; "
        f"longest word sequence shared by at least 1% of texts: \"{template}\" ({len(template.split())} words, "
        f"{count} texts); near-duplicate pairs (word-trigram Jaccard >= 0.5): {len(pairs)}."
    ]


def counts_line(what: str, counter: Counter, order: tuple[str, ...] | None = None) -> str:
    """'what: a 3, b 2.' in the given order, or most common first."""
    items = [(k, counter[k]) for k in order] if order else counter.most_common()
    return f"{what}: " + ", ".join(f"{k} {n}" for k, n in items) + "."


def shortcut_lines(splits: dict[str, list[dict]], text_of, label: str, cues: dict[str, list[str]]) -> list[str]:
    """The shortcuts table (train -> test) and the most class-telling first words of the whole set."""
    pairs = {s: [(text_of(r), r[label]) for r in rows] for s, rows in splits.items()}
    scores = shortcuts.shortcut_scores(pairs["train"], pairs["test"], cues)
    every = [p for rows in pairs.values() for p in rows]
    telling = shortcuts.telling_first_words(every, minimum=5)
    lines = shortcuts.shortcut_table(scores) + [
        "", "Cue-word lists (whole lowercase words; most hits wins, none or a tie gives the majority class): "
        + "; ".join(f"{name}: {', '.join(words)}" for name, words in cues.items()) + ".",
        "", "First words used by at least 5 texts, most class-telling first (all splits): "
        + ", ".join(f"\"{w}\" {n} texts, {p:.0%} {c}" for w, n, c, p in telling) + "."]
    return lines


def annotation_lines(annotations: list[dict], gold: dict[str, dict]) -> list[str]:
    """Agreement figures of the simulated annotators: kappa overall and per class, confusion, adjudication."""
    a, b = [r["annotator_a"] for r in annotations], [r["annotator_b"] for r in annotations]
    adjudicated = [r["adjudicated"] for r in annotations]
    stars = [gold[r["id"]]["sentiment"] for r in annotations]
    per_class = {c: cohen_kappa_score([x == c for x in a], [x == c for x in b]) for c in data.SENTIMENTS}
    confusion = Counter(zip(a, b))
    disagree = [r for r in annotations if r["annotator_a"] != r["annotator_b"]]
    hard = [annotators.is_hard(dict(gold[r["id"]], tone=r["tone"])) for r in annotations]
    hard_disagree = sum(h for h, r in zip(hard, annotations) if r["annotator_a"] != r["annotator_b"])
    rules = ", ".join(f"{name} {getattr(annotators, name):.2f}" for name in (
        "A_BOUNDARY", "A_ENDING", "A_LUKEWARM", "A_LITERAL", "B_COMPLAINT", "B_HARSH", "B_LITERAL", "SLIP"))
    lines = [f"{len(annotations)} reviews (the whole clean set), each labelled by annotators A and B. "
             f"Rule probabilities in `annotators.py`: {rules}.", "",
             f"- Cohen's κ between A and B: **{cohen_kappa_score(a, b):.3f}** overall; one-vs-rest per class: "
             + ", ".join(f"{c} {k:.3f}" for c, k in per_class.items()) + ".",
             f"- Raw agreement: {1 - len(disagree) / len(annotations):.1%} ({len(disagree)} disagreements).",
             f"- Disagreements on hard reviews (3 stars, a mixed/sarcastic/lukewarm tone, a contrast word, or words "
             f"pointing away from the meaning): {hard_disagree} of {len(disagree)} ({hard_disagree / len(disagree):.0%}), "
             f"while such reviews are {sum(hard) / len(hard):.0%} of the set.",
             f"- Against the reviewers' own star-derived sentiment: A κ {cohen_kappa_score(a, stars):.3f}, "
             f"B κ {cohen_kappa_score(b, stars):.3f}, adjudicated κ {cohen_kappa_score(adjudicated, stars):.3f}; "
             f"adjudicated labels that differ from it: {sum(x != y for x, y in zip(adjudicated, stars))} "
             "(both annotators agreed on the other label).", "",
             "Confusion between annotators (rows: A, columns: B):", "",
             "| A \\ B | " + " | ".join(data.SENTIMENTS) + " |", "| --- " * 4 + "|"]
    lines += [f"| {x} | " + " | ".join(str(confusion[(x, y)]) for y in data.SENTIMENTS) + " |" for x in data.SENTIMENTS]
    return lines


def raw_lines(raw: list[dict], eligible: int, clean_count: int) -> list[str]:
    """Counts of every planted problem in the raw collection, and the label-noise rate."""
    counts = raw_reviews.kind_counts(raw)
    noisy = counts["wrong label (label noise)"]
    untouched = sum(1 for r in raw if not r["kinds"])
    return [f"{len(raw)} rows: each of the {clean_count} clean reviews once ({sum(r['in_clean_set'] for r in raw)} rows "
            f"marked `in_clean_set`), their copies, and rows from outside the clean set. {untouched} rows carry no "
            "planted problem. Rows with a planted problem, by kind (a row can carry several):", ""] + \
        [f"- {kind}: {n}" for kind, n in sorted(counts.items())] + \
        ["", f"Label noise: {noisy} of the {eligible} rows that come from the clean set (originals and their copies) "
             f"carry a wrong label: **{noisy / eligible:.1%}**, drawn independently of duplication (a copy and its "
             "original are drawn separately)."]


def shifted_review_lines(rows: list[dict]) -> list[str]:
    """Size, balance, registers and lengths of the shifted review test set."""
    words = [cleaning.word_count(r["text"]) for r in rows]
    return [f"{len(rows)} reviews. " + counts_line("Classes", Counter(r["sentiment"] for r in rows), data.SENTIMENTS),
            counts_line("Registers", Counter(r["register"] for r in rows)), "", *TABLE_HEAD,
            length_row("text", words, "words")]


def review_length_lines(rows: list[dict]) -> list[str]:
    """Length table overall and per class, and the share of short reviews."""
    lines = TABLE_HEAD + [length_row("text (all)", [cleaning.word_count(r["text"]) for r in rows], "words")]
    lines += [length_row(f"text ({c})", [cleaning.word_count(r["text"]) for r in rows if r["sentiment"] == c], "words")
              for c in data.SENTIMENTS]
    words = [cleaning.word_count(r["text"]) for r in rows]
    return lines + ["", f"Reviews of 4-15 words: {share(words, lambda n: 4 <= n <= 15):.1%}; over 40 words: "
                        f"{share(words, lambda n: n > 40):.1%}."]


def build_reviews() -> tuple[dict[str, str], list[str]]:
    """Splits, raw file, answer key, annotations and statistics of the reviews data set."""
    folder = ROOT / "reviews"
    long_rows = read_rows(folder / "reviews.csv", REVIEW_COLUMNS)
    short = read_rows(folder / "short.csv", REVIEW_COLUMNS + ["tone"])
    check_labels(long_rows + short, folder / "reviews.csv + short.csv", "sentiment", data.SENTIMENTS)
    check_labels(short, folder / "short.csv", "tone", TONES)
    clean = long_rows + short
    reserve = read_rows(folder / "reserve.csv", REVIEW_COLUMNS)
    reposts = read_rows(folder / "reposts.csv", ["id", "original_id", "text"])
    spam = read_rows(folder / "spam.csv", ["id", "text"])
    mixed = read_rows(folder / "mixed_language.csv", REVIEW_COLUMNS)
    shifted = read_rows(folder / "shifted.csv", REVIEW_COLUMNS + ["register"])
    check_labels(shifted, folder / "shifted.csv", "sentiment", data.SENTIMENTS)
    check_apart([r["text"] for r in shifted], [r["text"] for r in clean], folder / "shifted.csv")
    splits = split_rows(clean, "sentiment", "text")
    files = split_files(splits, REVIEW_COLUMNS)
    raw, eligible = raw_reviews.make_raw_reviews(clean, reserve, reposts, spam, mixed, SEED)
    files["raw.csv"] = csv_text(raw, REVIEW_COLUMNS)
    files["raw_truth.csv"] = csv_text(raw, TRUTH_COLUMNS)
    annotations = annotators.annotate(clean, SEED)
    files["annotations.csv"] = csv_text(annotations, ANNOTATION_COLUMNS)
    texts = [r["text"] for r in clean]
    stats = ["### Counts per class and split", "", f"{len(long_rows)} longer reviews (`reviews.csv`) and {len(short)} "
             "short ones (`short.csv`), split together.", ""] + class_table(splits, "sentiment", data.SENTIMENTS)
    stats += ["", counts_line("Stars", Counter(r["stars"] for r in clean), tuple("12345")),
              "", counts_line("Tones of the short reviews (writer's tag)", Counter(r["tone"] for r in short), TONES),
              "", counts_line("Domains", Counter(r["domain"] for r in clean)),
              "", "### Lengths", ""] + review_length_lines(clean)
    stats += ["", "### Diversity", ""] + diversity_lines("text", texts)
    stats += ["", "### Shortcuts", ""] + shortcut_lines(splits, lambda r: r["text"], "sentiment", shortcuts.REVIEW_CUES)
    stats += ["", shortcuts.cue_share_lines([(r["text"], r["sentiment"]) for r in clean], shortcuts.HEDGE_WORDS,
                                            data.SENTIMENTS, "a hedge word")]
    stats += ["", "### Agreement (`annotations.csv`)", ""] + annotation_lines(annotations, {r["id"]: r for r in clean})
    stats += ["", "### The raw collection (`raw.csv`, answer key `raw_truth.csv`)", ""]
    stats += raw_lines(raw, eligible, len(clean))
    stats += ["", "### Shifted test set (`shifted.csv`)", ""] + shifted_review_lines(shifted)
    return files, stats


def sentence_count(text: str) -> int:
    """Number of sentences: runs of text ending in . ! or ? followed by a space and a capital, a quote or the end."""
    return len(re.findall(r"[.!?][\"'”’]?(?=\s+[A-Z\"“‘'(]|\s*$)", text.strip())) or 1


def news_length_lines(rows: list[dict]) -> list[str]:
    """Length table of titles and descriptions, the 15-60-word share and sentences per description."""
    descriptions = [cleaning.word_count(r["description"]) for r in rows]
    sentences = Counter(min(sentence_count(r["description"]), 4) for r in rows)
    return TABLE_HEAD + [length_row("title", [cleaning.word_count(r["title"]) for r in rows], "words"),
                         length_row("description", descriptions, "words"),
                         "", f"Descriptions of 15-60 words: {share(descriptions, lambda n: 15 <= n <= 60):.1%}. "
                         "Sentences per description: " + ", ".join(
                             f"{'4 or more' if k == 4 else k}: {sentences[k]}" for k in sorted(sentences)) + "."]


def build_news() -> tuple[dict[str, str], list[str]]:
    """Splits and statistics of the news data set."""
    folder = ROOT / "news"
    rows = read_rows(folder / "news.csv", NEWS_COLUMNS)
    check_labels(rows, folder / "news.csv", "label", data.NEWS_TOPICS)
    shifted = read_rows(folder / "shifted.csv", NEWS_COLUMNS)
    check_labels(shifted, folder / "shifted.csv", "label", data.NEWS_TOPICS)
    headline = lambda r: r["title"] + ". " + r["description"]  # noqa: E731
    check_apart([headline(r) for r in shifted], [headline(r) for r in rows], folder / "shifted.csv")
    splits = split_rows([dict(r, headline=headline(r)) for r in rows], "label", "headline")
    files = split_files(splits, NEWS_COLUMNS)
    stats = ["### Counts per class and split", ""] + class_table(splits, "label", data.NEWS_TOPICS)
    stats += ["", "### Lengths", ""] + news_length_lines(rows) + ["", "### Diversity", ""]
    stats += diversity_lines("title + description", [headline(r) for r in rows])
    stats += ["", "### Shortcuts", "", "Texts are `title. description`, as the lessons feed them to a model.", ""]
    stats += shortcut_lines(splits, headline, "label", shortcuts.NEWS_CUES)
    table, p_value, information = shortcuts.spelling_dependence([(headline(r), r["label"]) for r in rows], data.NEWS_TOPICS)
    stats += ["", "British against American spellings of the same words (metres/meters, -ise/-ize, colour/color, "
              "programme/program, per cent/percent, ...; the list is `SPELLING_PAIRS` in `shortcuts.py`), per class:", ""]
    british = sum(shortcuts.spelling_variety(headline(r)) in ("UK", "both") for r in rows)
    stats += table + ["", f"Dependence of spelling variety on class (items using one variety only): chi-square "
                          f"p = {p_value:.3f}, mutual information = {information:.3f} bits"
                          + (" (no item uses a British form, so there is no choice of spelling to carry the class)."
                             if british == 0 else ".")]
    stats += ["", "### Shifted test set (`shifted.csv`)", "",
              f"{len(shifted)} items. " + counts_line("Classes", Counter(r["label"] for r in shifted), data.NEWS_TOPICS),
              ""] + news_length_lines(shifted)
    return files, stats


def zh_length_lines(rows: list[dict], name: str) -> list[str]:
    """Length table of both sides and the distribution of Chinese lengths in bands."""
    chars = [len(CHINESE.findall(r["zh"])) for r in rows]
    bands = [(1, 3), (4, 6), (7, 9), (10, 12), (13, 15), (16, 20), (21, 30), (31, 200)]
    spread = ", ".join(f"{lo}-{hi if hi < 200 else ''}: {sum(lo <= c <= hi for c in chars)}" for lo, hi in bands)
    return TABLE_HEAD + [length_row(f"zh ({name})", chars, "Chinese characters"),
                         length_row(f"en ({name})", [cleaning.word_count(r["en"]) for r in rows], "words"),
                         "", f"Chinese characters per sentence ({name}), in bands: {spread}."]


def build_translation() -> tuple[dict[str, str], list[str]]:
    """Splits and statistics of the Chinese-English data set."""
    folder = ROOT / "translation"
    rows = read_rows(folder / "translation.csv", TRANSLATION_COLUMNS)
    shifted = read_rows(folder / "shifted.csv", TRANSLATION_COLUMNS)
    check_apart([" ".join(r["zh"]) for r in shifted], [" ".join(r["zh"]) for r in rows], folder / "shifted.csv")
    splits = split_rows(rows, None, "zh")
    files = split_files(splits, TRANSLATION_COLUMNS)
    stats = ["### Counts per split", "", "| " + " | ".join(data.SPLITS) + " | total |", "| --- " * 4 + "|",
             "| " + " | ".join(str(len(splits[s])) for s in data.SPLITS) + f" | {len(rows)} |",
             "", "### Lengths", ""] + zh_length_lines(rows, "all pairs") + ["", "### Diversity", ""]
    stats += diversity_lines("en", [r["en"] for r in rows])
    stats += diversity_lines("zh (characters as words)", [" ".join(r["zh"]) for r in rows])
    stats += ["", "### Shifted test set (`shifted.csv`)", "", f"{len(shifted)} pairs.", ""]
    stats += zh_length_lines(shifted, "shifted")
    return files, stats


def with_statistics(datasheet: str, stats: list[str]) -> str:
    """The datasheet with its statistics section replaced."""
    before, rest = datasheet.split(STATS_START, 1)
    after = rest.split(STATS_END, 1)[1]
    return before + STATS_START + "\n" + "\n".join(stats) + "\n" + STATS_END + after


def built_files() -> dict[Path, str]:
    """Every derived file of data_samples/, by path, with its content."""
    outputs = {}
    for name, build in [("reviews", build_reviews), ("news", build_news), ("translation", build_translation)]:
        files, stats = build()
        folder = ROOT / name
        outputs.update({folder / file: text for file, text in files.items()})
        outputs[folder / "README.md"] = with_statistics((folder / "README.md").read_text(encoding="utf-8"), stats)
    return outputs


def main(check: bool) -> int:
    """Write the derived files, or with `check` report those that are out of date."""
    stale = []
    for path, text in built_files().items():
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run python data_samples/build.py):", *stale)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv[1:]))
