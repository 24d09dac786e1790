"""Write the book's claims ledger from the executed lessons: every claim a lesson recorded, nothing typed.

    python book/claims_ledger.py notebooks book/claims.md

A lesson records a claim with `sft_helpers.stats.record_claim`, which stores it in the cell's output as
`application/vnd.sft-course.claim+json`; this script collects those outputs in reading order.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import nbformat

from sft_helpers.stats import CLAIM_MIME, Interval

HEADER = """# Claims ledger

Every claim the lessons test, with what this run of the course measured. The page is generated from the executed
notebooks by `book/claims_ledger.py` when the book is built: each row comes from a cell that computed the effect and
its 95% interval and asserted the verdict. *Held*: the whole interval supports the claim. *Not distinguishable here*:
the interval contains no effect. *Reversed*: the interval points the other way. *Partly*: the lesson explains which
part held. A claim that one thing does *as well as* another carries a margin fixed before the run: it held when the
whole interval lies above minus the margin, and is reversed when the whole interval lies below it. *Detectable*: the
smallest effect the experiment would have found four times in five (80% power at the 95% level, about 2.8 standard
errors, the standard error read off the interval's width). A claim not distinguishable here says nothing about
effects smaller than that; to decide one, the experiment needs more items or seeds.

"""


def claims_in(notebook: Path) -> list[dict]:
    """The claims recorded in one executed notebook, in cell order."""
    cells = nbformat.read(notebook, as_version=4).cells
    return [output["data"][CLAIM_MIME] for cell in cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) if CLAIM_MIME in output.get("data", {})]


def interval_text(effect: dict, unit: str, margin: float | None = None) -> str:
    """'+4.2 [1.0, 7.5] points' from a stored interval, with the margin of an "as well as" claim."""
    shown = f"{effect['estimate']:+.3g} [{effect['low']:.3g}, {effect['high']:.3g}] {unit}".strip()
    return shown if margin is None else f"{shown} (margin {margin:g})"


def detectable_text(effect: dict, unit: str) -> str:
    """'5.9 points': the smallest effect the claim's experiment could detect, from its stored interval."""
    return f"{Interval(**effect).detectable_effect():.2g} {unit}".strip()


def ledger_markdown(notebooks: list[Path]) -> str:
    """The ledger page: a summary line and one table row per claim."""
    rows, verdicts = [], Counter()
    for notebook in notebooks:
        for claim in claims_in(notebook):
            verdicts[claim["verdict"]] += 1
            link = f"[{notebook.stem[:2]}](notebooks/{notebook.stem}.ipynb)"
            cells = [link, claim["claim"], claim["measured"], interval_text(claim["effect"], claim["unit"], claim.get("margin")),
                     detectable_text(claim["effect"], claim["unit"]), f"**{claim['verdict']}**"]
            rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    summary = "".join(f"{', ' if i else ': '}{count} {verdict}" for i, (verdict, count) in enumerate(verdicts.most_common()))
    table = ["| lesson | claim | measured | effect [95% interval] | detectable | verdict |",
             "| --- | --- | --- | --- | --- | --- |"]
    return HEADER + f"{len(rows)} claims{summary}.\n\n" + "\n".join(table + rows) + "\n"


def main(folder: str, out: str) -> None:
    """Collect the claims of every lesson notebook in `folder` into the Markdown page `out`."""
    notebooks = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    Path(out).write_text(ledger_markdown(notebooks), encoding="utf-8")
    print(f"claims ledger: {sum(len(claims_in(n)) for n in notebooks)} claims from {len(notebooks)} lessons -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
