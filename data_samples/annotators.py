"""Simulated annotators for reviews/annotations.csv (used by build.py; every draw is seeded per review id).

Two annotators label each clean review from its text with different briefs; a third settles disagreements.
They are programs, not people: each follows the rules below with the stated probabilities.
"""
from __future__ import annotations

import random
import re

from sft_helpers import data

CONTRAST = re.compile(r"\b(?:but|though|tho|although|however|except|otherwise|apart from|that said|whereas|"
                      r"not so much|could be better)\b")
PRAISE = set("great love loved loves lovely excellent amazing best perfect fantastic wonderful recommend brilliant nice "
             "good fun fresh friendly helpful kind fast quick easy clean comfortable comfy tasty delicious beautiful solid "
             "sharp happy worth gorgeous superb smooth reliable awesome cute impressed enjoyed".split())
COMPLAINT = set("bad terrible awful worst horrible broke broken refund waste rude disappointed disappointing useless slow "
                "cold dirty loud noisy late stale overpriced expensive pricey flimsy crash crashes crashed boring bland "
                "tight nightmare joke meh problem problems issue issues never stopped failed missing lost wrong mess "
                "annoying cramped died dead leaks leaked buggy laggy rip ripped hate hated unfortunately sadly".split())
HEDGE = set("okay ok fine decent average alright mediocre whatever mid".split())
SLIP = 0.02            # both annotators: share of careless labels, to a neighbouring class
A_BOUNDARY = 0.40      # A: a 2- or 4-star review with a contrast, praise and complaint, or a mixed/lukewarm tone -> neutral
A_ENDING = 0.30        # A: a 3-star review with a contrast -> the side its last sentence leans to
A_LUKEWARM = 0.15      # A: a 3-star lukewarm review or one with a hedge word and no complaint -> positive
A_LITERAL = 0.15       # A: a review whose words point the other way (sarcasm) -> its surface reading
B_COMPLAINT = 0.45     # B: a positive review with a complaint word or a contrast -> neutral
B_HARSH = 0.45         # B: a neutral review with at least as many complaint as praise words -> negative
B_LITERAL = 0.60       # B: a review whose words point the other way (sarcasm) -> its surface reading


def words_of(text: str) -> list[str]:
    """Lowercase words of a text."""
    return data.dedup_key(text).split()


def lean(text: str) -> str | None:
    """'positive' or 'negative' when praise or complaint words dominate the text, else None."""
    words = words_of(text)
    praise, complaint = sum(w in PRAISE for w in words), sum(w in COMPLAINT for w in words)
    return "positive" if praise > complaint else "negative" if complaint > praise else None


def last_sentence(text: str) -> str:
    """The last sentence or clause of a text."""
    parts = [p for p in re.split(r"[.!?;]+|\bbut\b|\bthough\b|\btho\b", text) if p.strip()]
    return parts[-1] if parts else text


def surface_class(gold: str, text: str, tone: str) -> str | None:
    """The class a literal reader would give when the words point away from the meaning (sarcasm), else None."""
    surface = lean(text)
    misleading = surface is not None and gold != "neutral" and surface != gold and not CONTRAST.search(text.lower())
    return surface if (tone == "sarcastic" or misleading) and surface and surface != gold else None


def neighbour(label: str, rng: random.Random) -> str:
    """A class next to `label` on the negative-neutral-positive scale."""
    return rng.choice(["negative", "positive"]) if label == "neutral" else "neutral"


def annotator_a(gold: str, stars: int, text: str, tone: str, rng: random.Random) -> str:
    """A reads for the overall verdict: mostly right, unsure at boundaries, swayed by endings and by 'fine'."""
    low, words = text.lower(), set(words_of(text))
    both_sides = bool(words & PRAISE) and bool(words & COMPLAINT)
    contrast = bool(CONTRAST.search(low)) or both_sides or tone in ("mixed", "lukewarm")
    if (surface := surface_class(gold, text, tone)) and rng.random() < A_LITERAL:
        return surface
    if stars in (2, 4) and contrast and rng.random() < A_BOUNDARY:
        return "neutral"
    if stars == 3 and contrast and (ending := lean(last_sentence(text))) and rng.random() < A_ENDING:
        return ending
    if stars == 3 and (tone == "lukewarm" or (words & HEDGE and not words & COMPLAINT)) and rng.random() < A_LUKEWARM:
        return "positive"
    return neighbour(gold, rng) if rng.random() < SLIP else gold


def annotator_b(gold: str, stars: int, text: str, tone: str, rng: random.Random) -> str:
    """B is strict: any complaint makes a review at best neutral; takes sarcasm literally some of the time."""
    words = words_of(text)
    complaints, praise = sum(w in COMPLAINT for w in words), sum(w in PRAISE for w in words)
    if (surface := surface_class(gold, text, tone)) and rng.random() < B_LITERAL:
        return surface
    if gold == "positive" and (complaints or CONTRAST.search(text.lower())) and rng.random() < B_COMPLAINT:
        return "neutral"
    if gold == "neutral" and complaints and complaints >= praise and rng.random() < B_HARSH:
        return "negative"
    return neighbour(gold, rng) if rng.random() < SLIP else gold


def annotate(rows: list[dict], seed: int) -> list[dict]:
    """Each review with the labels of annotators A and B and the adjudicated label (C settles disagreements)."""
    out = []
    for row in rows:
        gold, stars, tone = row["sentiment"], int(row["stars"]), row.get("tone", "")
        a = annotator_a(gold, stars, row["text"], tone, random.Random(f"{seed}-A-{row['id']}"))
        b = annotator_b(gold, stars, row["text"], tone, random.Random(f"{seed}-B-{row['id']}"))
        out.append({"id": row["id"], "text": row["text"], "tone": tone, "annotator_a": a, "annotator_b": b,
                    "adjudicated": a if a == b else gold})
    return out


def is_hard(row: dict) -> bool:
    """A review people genuinely disagree on: 3 stars, a mixed/sarcastic/lukewarm tone, or a contrast word."""
    tone = row.get("tone", "")
    return row["stars"] == "3" or tone in ("mixed", "sarcastic", "lukewarm") or bool(CONTRAST.search(row["text"].lower())) \
        or surface_class(row["sentiment"], row["text"], tone) is not None
