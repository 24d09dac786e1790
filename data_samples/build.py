"""Build the course's data files from the hand-written sources, and the statistics in each datasheet.

    python data_samples/build.py           # write splits, the raw reviews, and the datasheet statistics
    python data_samples/build.py --check   # exit 1 if any built file differs from what is on disk

Sources (written by hand for this course): reviews/reviews.csv, reviews/reserve.csv, news/news.csv,
translation/translation.csv. Everything else in data_samples/ is derived from them here, with fixed seeds.
"""
from __future__ import annotations

import csv
import io
import random
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

from sft_helpers import data

ROOT = Path(__file__).resolve().parent
SEED = 20261125
STATS_START, STATS_END = "<!-- statistics: start (written by build.py) -->", "<!-- statistics: end -->"
REVIEW_COLUMNS = ["id", "text", "stars", "sentiment", "domain"]

# Rows as they arrive from collection that are not reviews at all (hand-written, 16 languages and junk).
NON_ENGLISH = [
    "Service très lent mais la nourriture était bonne.",
    "El hotel estaba limpio pero muy lejos del centro.",
    "Das Handy ist gut, aber der Akku hält nicht lange.",
    "Produto chegou com defeito e o suporte não responde.",
    "Il film è troppo lungo, ma gli attori sono bravi.",
    "这家餐厅的菜很好吃，但是服务太慢了。",
    "このアプリはとても使いやすいです。",
    "Очень удобные наушники, рекомендую.",
    "Le livre est magnifique, je le recommande à tous.",
    "La aplicación se cierra cada vez que la abro.",
    "Sehr freundliches Personal und ein tolles Frühstück.",
    "Entrega rápida, mas a embalagem veio amassada.",
    "电池续航一般，屏幕很清楚。",
    "Het eten was koud en de ober was onbeleefd.",
    "Bardzo dobry produkt, polecam wszystkim.",
    "Mükemmel bir otel, personel çok yardımsever.",
]
TOO_SHORT = ["", "   ", "ok", "meh", "...", "5", "Great!", "n/a", "lol", "!!!", "Good.", "?", "no", "fine", "-", "k"]
SENTIMENT_VARIANTS = {
    "negative": ["Negative", "neg", " NEGATIVE ", "-", "bad"],
    "neutral": ["Neutral", "neu", " NEUTRAL", "0"],
    "positive": ["Positive", "pos", " POSITIVE ", "+", "good"],
}
STAR_VARIANTS = ["{n} stars", "{n}/5", "{word}", "{glyphs}", "{n}.0"]
BOILERPLATE_ADDITIONS = [
    "{text} Read more", "[Posted via app] {text}", "{text} Sent from my iPhone", "{text} https://bit.ly/{code}",
    "{text} (more photos at www.reviewsite.example/r/{code})", "{text} Was this review helpful? Yes / No",
]
UNKNOWN_LABELS = ["meh", "idk", "3.5", "mixed", "?"]


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV source file."""
    return data.check_csv(path, [])


def csv_text(rows: list[dict], columns: list[str]) -> str:
    """Rows as CSV text with a header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def split_files(rows: list[dict], label: str | None, key: str, columns: list[str]) -> dict[str, str]:
    """train/validation/test CSV texts, stratified by `label`, near-duplicate groups kept together."""
    labels = [row[label] if label else "all" for row in rows]
    assigned = data.stratified_split(labels, [data.dedup_key(row[key]) for row in rows], seed=SEED)
    return {
        f"{split}.csv": csv_text([row for row, s in zip(rows, assigned) if s == split], columns)
        for split in data.SPLITS
    }


def misspell(text: str, rng: random.Random) -> str | None:
    """The text with one known word misspelled, or None when it holds none of them."""
    candidates = [(m, wrong) for wrong, right in data.SPELLING_CORRECTIONS.items()
                  for m in re.finditer(rf"\b{right}\b", text, flags=re.IGNORECASE) if m.group(0)[1:].islower()]
    if not candidates:
        return None
    match, wrong = rng.choice(candidates)
    wrong = wrong.capitalize() if match.group(0)[0].isupper() else wrong
    return text[: match.start()] + wrong + text[match.end() :]


def with_html(text: str, rng: random.Random) -> str:
    """The text as scraped from a web page: tags, line breaks and entities."""
    escaped = text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&quot;")
    escaped = re.sub(r"([.!?]) ", r"\1<br/>", escaped, count=1)
    return rng.choice(["<p>{}</p>", "<div class=\"review\">{}</div>", "<b></b>{}", "{}<br>"]).format(escaped)


def near_variant(text: str, rng: random.Random) -> tuple[str, str]:
    """A re-post of the text differing in case, punctuation or spacing, and which kind it is."""
    kind = rng.choice(["case", "punctuation", "whitespace"])
    if kind == "case":
        return (text.upper() if rng.random() < 0.5 else text.lower()), kind
    if kind == "punctuation":
        stripped = re.sub(r"[.!?,;:]", "", text)
        return (stripped if stripped != text else text + "!!"), kind
    return "  " + text.replace(" ", "   ", 2) + " \n", kind


def star_spelling(stars: int, rng: random.Random) -> str:
    """One of the ways a star rating arrives: '4 stars', '4/5', 'four', '★★★★', '4.0'."""
    words = {v: k for k, v in data.STAR_WORDS.items()}
    return rng.choice(STAR_VARIANTS).format(n=stars, word=words[stars], glyphs="★" * stars)


def make_raw_reviews(clean: list[dict], reserve: list[dict]) -> tuple[list[dict], Counter]:
    """The collection as it arrived: clean reviews with planted problems, each kind counted."""
    rng = random.Random(SEED)
    counts = Counter()
    stream = []
    for row in rng.sample(clean, len(clean)):
        text, sentiment, stars = row["text"], row["sentiment"], row["stars"]
        roll = rng.random()
        if roll < 0.08:
            text, counts["HTML tags and entities"] = with_html(text, rng), counts["HTML tags and entities"] + 1
        elif roll < 0.14:
            code = "".join(rng.choices("abcdefghjkmnpqrstuvwxyz23456789", k=6))
            text = rng.choice(BOILERPLATE_ADDITIONS).format(text=text, code=code)
            counts["links and boilerplate"] += 1
        elif roll < 0.19:
            text = "  " + text.replace(". ", ".\n\n", 1) + "\t"
            counts["messy whitespace"] += 1
        elif roll < 0.27 and (wrong := misspell(text, rng)):
            text = wrong
            counts["spelling errors"] += 1
        if rng.random() < 0.15:
            sentiment = rng.choice(SENTIMENT_VARIANTS[sentiment] + [f"{stars} stars" if stars != "1" else "1 star"])
            counts["label spelling variants (sentiment)"] += 1
        if rng.random() < 0.10:
            stars = star_spelling(int(stars), rng)
            counts["label spelling variants (stars)"] += 1
        stream.append({"text": text, "stars": stars, "sentiment": sentiment, "domain": row["domain"]})
    originals = list(stream)
    for _ in range(45):
        position = rng.randrange(len(originals))
        stream.insert(stream.index(originals[position]) + rng.randrange(1, 60), dict(originals[position]))
        counts["exact duplicates"] += 1
    for _ in range(45):
        source = originals[rng.randrange(len(originals))]
        variant, kind = near_variant(data.normalise_whitespace(data.strip_html(source["text"])), rng)
        stream.insert(stream.index(source) + rng.randrange(1, 60), dict(source, text=variant))
        counts[f"near-duplicates ({kind})"] += 1
    extras = reserve_rows(reserve, rng, counts)
    for row in extras:
        stream.insert(rng.randrange(len(stream) + 1), row)
    return [dict(row, id=f"raw-{i:05d}") for i, row in enumerate(stream, start=1)], counts


def reserve_rows(reserve: list[dict], rng: random.Random, counts: Counter) -> list[dict]:
    """Rows that cleaning must remove: junk, other languages, missing, unknown and conflicting labels."""
    pool = list(reserve)
    rng.shuffle(pool)
    rows = [{"text": t, "stars": "", "sentiment": "", "domain": ""} for t in TOO_SHORT]
    counts["empty or too short"] = len(TOO_SHORT)
    for text in NON_ENGLISH:
        stars = rng.randint(1, 5)
        rows.append({"text": text, "stars": str(stars), "sentiment": data.sentiment_from_stars(stars), "domain": ""})
    counts["non-English"] = len(NON_ENGLISH)
    for row in pool[:20]:
        rows.append(dict(row, stars="", sentiment=""))
    counts["missing labels"] = 20
    for row, label in zip(pool[20:25], UNKNOWN_LABELS):
        rows.append(dict(row, sentiment=label))
    counts["unknown label spellings"] = 5
    for row in pool[25:45]:
        other = rng.choice([s for s in data.SENTIMENTS if s != row["sentiment"]])
        other_stars = {"negative": "1", "neutral": "3", "positive": "5"}[other]
        rows += [dict(row), dict(row, stars=other_stars, sentiment=other)]
    counts["texts with conflicting labels (2 rows each)"] = 20
    for row in pool[45:50]:
        wrong = "positive" if row["sentiment"] == "negative" else "negative"
        rows.append(dict(row, sentiment=wrong))
    counts["stars contradicting sentiment"] = 5
    return rows


def length_table(name: str, lengths: list[int], unit: str) -> str:
    """A Markdown row of length statistics."""
    return (f"| {name} | {unit} | {min(lengths)} | {statistics.median(lengths):g} | "
            f"{statistics.mean(lengths):.1f} | {max(lengths)} |")


def class_table(rows_by_split: dict[str, list[dict]], label: str, names: tuple[str, ...]) -> list[str]:
    """Markdown table of counts per class and split."""
    lines = ["| class | " + " | ".join(data.SPLITS) + " | total |", "| --- " * (len(data.SPLITS) + 2) + "|"]
    for name in names + ("all",):
        counts = [sum(1 for r in rows if name == "all" or r[label] == name) for rows in rows_by_split.values()]
        lines.append(f"| {name} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} |")
    return lines


def diversity_lines(name: str, texts: list[str]) -> list[str]:
    """Markdown lines stating the diversity measures of a text column."""
    template, count = data.longest_common_template(texts)
    pairs = data.near_duplicate_pairs(texts)
    return [
        f"- **{name}**: distinct word bigrams / all bigrams = {data.distinct_bigram_ratio(texts):.3f}; "
        f"longest word sequence shared by at least 1% of texts: \"{template}\" ({len(template.split())} words, "
        f"{count} texts); near-duplicate pairs (word-trigram Jaccard >= 0.5): {len(pairs)}."
    ]


def read_splits(folder: Path, files: dict[str, str]) -> dict[str, list[dict]]:
    """Parse the built split files back into rows."""
    return {split: list(csv.DictReader(io.StringIO(files[f"{split}.csv"]))) for split in data.SPLITS}


def build_reviews() -> tuple[dict[str, str], list[str]]:
    """Splits, raw file and statistics of the reviews data set."""
    folder = ROOT / "reviews"
    clean, reserve = read_rows(folder / "reviews.csv"), read_rows(folder / "reserve.csv")
    files = split_files(clean, "sentiment", "text", REVIEW_COLUMNS)
    raw, problems = make_raw_reviews(clean, reserve)
    files["raw.csv"] = csv_text(raw, REVIEW_COLUMNS)
    splits = read_splits(folder, files)
    texts = [r["text"] for r in clean]
    words = [data.word_count(t) for t in texts]
    stars = Counter(r["stars"] for r in clean)
    stats = ["### Counts per class and split", ""] + class_table(splits, "sentiment", data.SENTIMENTS)
    stats += ["", "Stars: " + ", ".join(f"{s} star(s) {stars[s]}" for s in "12345") + ".", "",
              "Domains: " + ", ".join(f"{d} {n}" for d, n in Counter(r["domain"] for r in clean).most_common()) + ".",
              "", "### Lengths", "", "| column | unit | min | median | mean | max |", "| --- | --- | --- | --- | --- | --- |",
              length_table("text", words, "words"), "", "### Diversity", ""] + diversity_lines("text", texts)
    stats += ["", "### The raw collection (`raw.csv`)", "",
              f"{len(raw)} rows: the {len(clean)} clean reviews (some altered) plus planted problems:", ""]
    stats += [f"- {kind}: {count}" for kind, count in sorted(problems.items())]
    return files, stats


def build_news() -> tuple[dict[str, str], list[str]]:
    """Splits and statistics of the news data set."""
    rows = read_rows(ROOT / "news" / "news.csv")
    for row in rows:
        row["headline"] = row["title"] + ". " + row["description"]
    files = split_files(rows, "label", "headline", ["id", "title", "description", "label"])
    splits = read_splits(ROOT / "news", files)
    stats = ["### Counts per class and split", ""] + class_table(splits, "label", data.NEWS_TOPICS)
    stats += ["", "### Lengths", "", "| column | unit | min | median | mean | max |", "| --- | --- | --- | --- | --- | --- |",
              length_table("title", [data.word_count(r["title"]) for r in rows], "words"),
              length_table("description", [data.word_count(r["description"]) for r in rows], "words"),
              "", "### Diversity", ""]
    stats += diversity_lines("title + description", [r["headline"] for r in rows])
    return files, stats


def build_translation() -> tuple[dict[str, str], list[str]]:
    """Splits and statistics of the Chinese-English data set."""
    rows = read_rows(ROOT / "translation" / "translation.csv")
    files = split_files(rows, None, "zh", ["id", "zh", "en"])
    splits = read_splits(ROOT / "translation", files)
    zh_chars = [len(re.findall(r"[\u4e00-\u9fff]", r["zh"])) for r in rows]
    stats = ["### Counts per split", "", "| " + " | ".join(data.SPLITS) + " | total |", "| --- " * 4 + "|",
             "| " + " | ".join(str(len(splits[s])) for s in data.SPLITS) + f" | {len(rows)} |",
             "", "### Lengths", "", "| column | unit | min | median | mean | max |", "| --- | --- | --- | --- | --- | --- |",
             length_table("zh", zh_chars, "Chinese characters"),
             length_table("en", [data.word_count(r["en"]) for r in rows], "words"), "", "### Diversity", ""]
    stats += diversity_lines("en", [r["en"] for r in rows])
    stats += diversity_lines("zh (characters as words)", [" ".join(r["zh"]) for r in rows])
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
