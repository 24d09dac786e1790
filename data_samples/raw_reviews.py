"""The raw review collection (reviews/raw.csv) and its answer key (reviews/raw_truth.csv), used by build.py.

Every planted problem is drawn with a seeded random generator and recorded, row by row, in the answer key.
"""
from __future__ import annotations

import random
import re
from collections import Counter

from sft_helpers import cleaning, data

LABEL_NOISE_RATE = 0.08  # share of the review rows from the clean set whose stars and sentiment are replaced
NON_ENGLISH = [  # rows that are not English reviews at all (hand-written, several languages)
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
EMOJI = {
    "positive": ["😍", "👍", "🔥", "❤️", "🙌", "😊", "⭐⭐⭐⭐⭐", "💯"],
    "neutral": ["🤷", "😐", "🤔", "😕", "🙂"],
    "negative": ["😡", "👎", "🤬", "😤", "🙄", "💀", "😩"],
    "any": ["😂", "😅", "🙃", "😬"],
}
KEYBOARD_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
TEXT_PROBLEMS = [  # (kind, cumulative probability): at most one text problem per review row
    ("HTML tags and entities", 0.07), ("links and boilerplate", 0.12), ("messy whitespace", 0.16),
    ("misspellings from the fixer's table", 0.21), ("typos (keyboard slips, dropped or doubled letters)", 0.30),
    ("mojibake (UTF-8 read as cp1252)", 0.35), ("emoji", 0.41), ("truncated text", 0.45),
]


def keyboard_neighbours() -> dict[str, str]:
    """For each lowercase letter, the letters next to it on a QWERTY keyboard (same row)."""
    table = {}
    for row in KEYBOARD_ROWS:
        for i, letter in enumerate(row):
            table[letter] = row[max(0, i - 1) : i] + row[i + 1 : i + 2]
    return table


NEIGHBOURS = keyboard_neighbours()


def known_misspelling(text: str, rng: random.Random) -> str | None:
    """The text with one word misspelled as in the fixer's table, or None when it holds none of those words."""
    candidates = [(m, wrong) for wrong, right in cleaning.SPELLING_CORRECTIONS.items()
                  for m in re.finditer(rf"\b{right}\b", text, flags=re.IGNORECASE) if m.group(0)[1:].islower()]
    if not candidates:
        return None
    match, wrong = rng.choice(candidates)
    wrong = wrong.capitalize() if match.group(0)[0].isupper() else wrong
    return text[: match.start()] + wrong + text[match.end() :]


def typo(word: str, rng: random.Random) -> str:
    """One slip inside a word: a neighbouring key, a dropped, doubled or swapped letter."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["neighbour", "drop", "double", "swap"])
    if kind == "neighbour" and word[i].lower() in NEIGHBOURS:
        return word[:i] + rng.choice(NEIGHBOURS[word[i].lower()]) + word[i + 1 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "swap" and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i] + word[i:]


def with_typos(text: str, rng: random.Random) -> str | None:
    """The text with one or two words mistyped (never into a spelling the fixer's table knows), or None."""
    table = set(cleaning.SPELLING_CORRECTIONS) | set(cleaning.SPELLING_CORRECTIONS.values())
    spots = [m for m in re.finditer(r"\b[A-Za-z]{4,}\b", text) if m.group(0).lower() not in table]
    if not spots:
        return None
    for match in sorted(rng.sample(spots, min(len(spots), rng.choice([1, 1, 2]))), key=lambda m: -m.start()):
        wrong = typo(match.group(0), rng)
        if wrong.lower() not in table:
            text = text[: match.start()] + wrong + text[match.end() :]
    return text


def mojibake(text: str) -> str | None:
    """The text typed with curly apostrophes and dashes, then decoded from UTF-8 as cp1252; None if nothing changes."""
    typed = text.replace("'", "\u2019").replace("...", "\u2026").replace(" - ", " \u2013 ")
    if typed == text:
        return None
    return typed.encode("utf-8").decode("cp1252")


def with_emoji(text: str, sentiment: str, rng: random.Random) -> str:
    """The text with one to three emoji, usually ones that fit its sentiment."""
    pool = EMOJI[sentiment] if rng.random() < 0.75 else EMOJI["any"] + EMOJI[rng.choice(list(data.SENTIMENTS))]
    marks = "".join(rng.choice(pool) for _ in range(rng.choice([1, 1, 2, 3])))
    where = rng.random()
    if where < 0.65:
        return text + rng.choice([" ", "", "  "]) + marks
    if where < 0.85:
        return marks + " " + text
    return re.sub(r"([.!?,])( )", lambda m: " " + marks + m.group(2), text, count=1) if re.search(r"[.!?,] ", text) \
        else text + " " + marks


def truncated(text: str, rng: random.Random) -> str | None:
    """The first 40-75% of the text's words, as a scraper or a length limit leaves it; None for short texts."""
    words = text.split()
    if len(words) < 10:
        return None
    kept = " ".join(words[: max(4, round(len(words) * rng.uniform(0.4, 0.75)))])
    return kept + rng.choice(["", "", "...", "\u2026"])


def with_html(text: str, rng: random.Random) -> str:
    """The text as scraped from a web page: tags, line breaks and entities."""
    escaped = text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&quot;")
    escaped = re.sub(r"([.!?]) ", r"\1<br/>", escaped, count=1)
    return rng.choice(["<p>{}</p>", "<div class=\"review\">{}</div>", "<b></b>{}", "{}<br>"]).format(escaped)


def with_boilerplate(text: str, rng: random.Random) -> str:
    """The text with a link or platform boilerplate added."""
    code = "".join(rng.choices("abcdefghjkmnpqrstuvwxyz23456789", k=6))
    return rng.choice(BOILERPLATE_ADDITIONS).format(text=text, code=code)


def damaged(text: str, sentiment: str, rng: random.Random) -> tuple[str, str | None]:
    """The text with at most one planted text problem, and which kind (None when left alone)."""
    roll, kind = rng.random(), None
    for name, upper in TEXT_PROBLEMS:
        if roll < upper:
            kind = name
            break
    changed = {
        "HTML tags and entities": lambda: with_html(text, rng),
        "links and boilerplate": lambda: with_boilerplate(text, rng),
        "messy whitespace": lambda: "  " + text.replace(". ", ".\n\n", 1) + "\t",
        "misspellings from the fixer's table": lambda: known_misspelling(text, rng),
        "typos (keyboard slips, dropped or doubled letters)": lambda: with_typos(text, rng),
        "mojibake (UTF-8 read as cp1252)": lambda: mojibake(text),
        "emoji": lambda: with_emoji(text, sentiment, rng),
        "truncated text": lambda: truncated(text, rng),
    }[kind]() if kind else None
    return (changed, kind) if changed and changed != text else (text, None)


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


def record(text: str, stars: str, sentiment: str, domain: str, source: str, kinds: list[str],
           true_label: tuple[str, str] | None, in_clean: bool) -> dict:
    """One row of the raw stream, carrying its answer-key fields."""
    true_stars, true_sentiment = true_label or ("", "")
    return {"text": text, "stars": stars, "sentiment": sentiment, "domain": domain, "source_id": source,
            "kinds": list(kinds), "true_stars": true_stars, "true_sentiment": true_sentiment, "in_clean_set": int(in_clean)}


def insert_after(stream: list[dict], anchor: dict, row: dict, rng: random.Random) -> None:
    """Insert `row` 1-59 positions after `anchor` (found by identity)."""
    position = next(i for i, r in enumerate(stream) if r is anchor)
    stream.insert(min(len(stream), position + rng.randrange(1, 60)), row)


def clean_stream(clean: list[dict], rng: random.Random) -> list[dict]:
    """Every clean review once, in random order, some with one text problem."""
    stream = []
    for row in rng.sample(clean, len(clean)):
        text, kind = damaged(row["text"], row["sentiment"], rng)
        stream.append(record(text, row["stars"], row["sentiment"], row["domain"], row["id"], [kind] if kind else [],
                             (row["stars"], row["sentiment"]), True))
    return stream


def add_copies(stream: list[dict], reposts: list[dict], rng: random.Random) -> None:
    """Exact duplicates, case/punctuation/spacing variants and paraphrased re-posts, each after its original."""
    originals = list(stream)
    by_source = {r["source_id"]: r for r in originals}
    for _ in range(45):
        source = rng.choice(originals)
        insert_after(stream, source, dict(source, kinds=source["kinds"] + ["exact duplicate"], in_clean_set=0), rng)
    for _ in range(45):
        source = rng.choice(originals)
        plain = cleaning.normalise_whitespace(cleaning.strip_html(source["text"]))
        variant, kind = near_variant(plain, rng)
        insert_after(stream, source, dict(source, text=variant, kinds=[f"near-duplicate ({kind})"], in_clean_set=0), rng)
    for repost in reposts:
        source = by_source[repost["original_id"]]
        row = dict(source, text=repost["text"], kinds=["paraphrased re-post"], in_clean_set=0)
        insert_after(stream, source, row, rng)


def reserve_rows(reserve: list[dict], rng: random.Random) -> list[dict]:
    """Rows that cleaning must remove: junk, other languages, missing, unknown and conflicting labels."""
    pool = list(reserve)
    rng.shuffle(pool)
    rows = [record(t, "", "", "", "", ["empty or too short"], None, False) for t in TOO_SHORT]
    for text in NON_ENGLISH:
        stars = rng.randint(1, 5)
        sentiment = cleaning.sentiment_from_stars(stars)
        rows.append(record(text, str(stars), sentiment, "", "", ["non-English"], None, False))
    label = lambda r: (r["stars"], r["sentiment"])  # noqa: E731
    for r in pool[:20]:
        rows.append(record(r["text"], "", "", r["domain"], r["id"], ["missing label"], label(r), False))
    for r, unknown in zip(pool[20:25], UNKNOWN_LABELS):
        kinds = ["unknown label spelling"]
        rows.append(record(r["text"], r["stars"], unknown, r["domain"], r["id"], kinds, label(r), False))
    for r in pool[25:45]:
        other = rng.choice([s for s in data.SENTIMENTS if s != r["sentiment"]])
        other_stars = {"negative": "1", "neutral": "3", "positive": "5"}[other]
        kinds = ["conflicting labels (same text twice)"]
        rows += [record(r["text"], r["stars"], r["sentiment"], r["domain"], r["id"], kinds, label(r), False),
                 record(r["text"], other_stars, other, r["domain"], r["id"], kinds, label(r), False)]
    for r in pool[45:50]:
        wrong = "positive" if r["sentiment"] == "negative" else "negative"
        rows.append(record(r["text"], r["stars"], wrong, r["domain"], r["id"], ["stars contradicting sentiment"],
                           label(r), False))
    return rows


def outside_rows(spam: list[dict], mixed: list[dict], domains: list[str], rng: random.Random) -> list[dict]:
    """Spam and advertising (rated by the spammer), and reviews that mix English with another language."""
    rows = []
    for r in spam:
        stars = rng.choice(["5", "5", "5", "4", "1"])
        rows.append(record(r["text"], stars, cleaning.sentiment_from_stars(int(stars)), rng.choice(domains), r["id"],
                           ["spam or advertising"], None, False))
    for r in mixed:
        rows.append(record(r["text"], r["stars"], r["sentiment"], r["domain"], r["id"], ["mixed-language"],
                           (r["stars"], r["sentiment"]), False))
    return rows


def wrong_label(stars: int, sentiment: str, rng: random.Random) -> tuple[str, str]:
    """A wrong (stars, sentiment): usually the neighbouring class at the nearest star, sometimes the opposite pole."""
    if sentiment == "neutral":
        new = rng.choice(["negative", "positive"])
    else:
        new = "neutral" if rng.random() < 0.7 else ("positive" if sentiment == "negative" else "negative")
    choices = {"negative": [1, 2], "neutral": [3], "positive": [4, 5]}[new]
    if new != "neutral" and sentiment != "neutral":  # a reversed scale: 1 <-> 5, 2 <-> 4
        new_stars = 6 - stars
    else:
        new_stars = min(choices, key=lambda s: (abs(s - stars), rng.random()))
    return str(new_stars), new


def plant_label_noise(stream: list[dict], clean_ids: set[str], rng: random.Random) -> int:
    """Give LABEL_NOISE_RATE of the rows from the clean set (copies included) a wrong label; return their number."""
    eligible = [r for r in stream if r["source_id"] in clean_ids]
    chosen = rng.sample(eligible, round(LABEL_NOISE_RATE * len(eligible)))
    for row in chosen:
        row["stars"], row["sentiment"] = wrong_label(int(row["stars"]), row["sentiment"], rng)
        row["kinds"] = row["kinds"] + ["wrong label (label noise)"]
    return len(eligible)


def spell_labels(stream: list[dict], rng: random.Random) -> None:
    """Write some sentiment and star labels in the other spellings that arrive from collection."""
    for row in stream:
        if not row["stars"] or row["sentiment"] not in data.SENTIMENTS:
            continue
        stars = row["stars"]
        if rng.random() < 0.15:
            as_stars = f"{stars} stars" if stars != "1" else "1 star"
            row["sentiment"] = rng.choice(SENTIMENT_VARIANTS[row["sentiment"]] + [as_stars])
            row["kinds"] = row["kinds"] + ["label spelling variant (sentiment)"]
        if rng.random() < 0.10:
            row["stars"] = star_spelling(int(stars), rng)
            row["kinds"] = row["kinds"] + ["label spelling variant (stars)"]


def make_raw_reviews(clean: list[dict], reserve: list[dict], reposts: list[dict], spam: list[dict],
                     mixed: list[dict], seed: int) -> tuple[list[dict], int]:
    """The collection as it arrived, with its answer key per row, and the number of rows eligible for label noise."""
    rng = random.Random(seed)
    stream = clean_stream(clean, rng)
    add_copies(stream, reposts, rng)
    domains = sorted({r["domain"] for r in clean})
    for row in reserve_rows(reserve, rng) + outside_rows(spam, mixed, domains, rng):
        stream.insert(rng.randrange(len(stream) + 1), row)
    eligible = plant_label_noise(stream, {r["id"] for r in clean}, rng)
    spell_labels(stream, rng)
    rows = [dict(row, id=f"raw-{i:05d}", problems="; ".join(row["kinds"])) for i, row in enumerate(stream, start=1)]
    return rows, eligible


def kind_counts(rows: list[dict]) -> Counter:
    """How many raw rows carry each planted problem."""
    return Counter(kind for row in rows for kind in row["kinds"])
