"""The claims ledger page is built from what the executed notebooks recorded, nothing else."""
import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

import nbformat

from sft_helpers import stats

SPEC = importlib.util.spec_from_file_location("claims_ledger", Path(__file__).parents[1] / "book" / "claims_ledger.py")
ledger = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(ledger)


def lesson_with_claims(path: Path, claims: list[stats.Claim]) -> Path:
    """A notebook whose cells hold claim outputs as `record_claim` stores them."""
    notebook = nbformat.v4.new_notebook()
    for claim in claims:
        output = nbformat.v4.new_output("display_data", data={
            "text/plain": claim.sentence(), stats.CLAIM_MIME: json.loads(json.dumps(asdict(claim)))})
        notebook.cells.append(nbformat.v4.new_code_cell("record_claim(...)", outputs=[output]))
    notebook.cells.append(nbformat.v4.new_markdown_cell("no claim here"))
    nbformat.write(notebook, path)
    return path


def test_ledger_lists_every_recorded_claim_with_interval_and_verdict(tmp_path):
    held = stats.Claim("02", "pretrained beats scratch", "val accuracy", stats.Interval(30.0, 24.0, 36.0), "points",
                       stats.HELD)
    unclear = stats.Claim("04", "Adam trains faster", "steps to 70%", stats.Interval(-2.0, -9.0, 5.0), "steps",
                          stats.NOT_DISTINGUISHABLE)
    lesson_with_claims(tmp_path / "02_a.ipynb", [held])
    lesson_with_claims(tmp_path / "04_b.ipynb", [unclear])
    (tmp_path / "notes.ipynb").write_text("not a lesson")
    page = tmp_path / "claims.md"
    ledger.main(str(tmp_path), str(page))
    text = page.read_text()
    assert "2 claims: 1 held, 1 not distinguishable here." in text
    assert "| [02](notebooks/02_a.ipynb) | pretrained beats scratch | val accuracy | +30 [24, 36] points | 8.6 points | **held** |" in text
    assert text.index("pretrained beats scratch") < text.index("Adam trains faster")


def test_ledger_of_lessons_without_claims_is_an_empty_table(tmp_path):
    lesson_with_claims(tmp_path / "00_a.ipynb", [])
    assert "0 claims" in ledger.ledger_markdown([tmp_path / "00_a.ipynb"])


def test_an_as_well_as_claim_shows_its_margin(tmp_path):
    parity = stats.Claim("10", "held-out phrasings as well as trained ones", "accuracy difference",
                         stats.Interval(-2.0, -6.0, 2.0), "points", stats.HELD, margin=10.0)
    lesson_with_claims(tmp_path / "10_a.ipynb", [parity])
    text = ledger.ledger_markdown([tmp_path / "10_a.ipynb"])
    assert "| -2 [-6, 2] points (margin 10) | 5.7 points | **held** |" in text
    assert "(margin 10 points) → **held**" in parity.sentence()
