"""The committed lessons as a reader meets them: no harness markers in sight, solutions collapsed, every
exercise answered, and stored outputs that need no widget manager (unless the widget is the lesson's subject)."""
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
from tidy_notebooks import tidy_outputs  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Lessons whose subject is a widget: 05's hyperparameter panel, 08's review box.
WIDGET_LESSONS = {"05_hyperparameter_tuning.ipynb", "08_sentiment_analysis.ipynb"}
NBVAL_COMMENT = re.compile(r"^\s*#+\s*(NBVAL_\w+|PYTEST_VALIDATE_\w+)", re.MULTILINE)
HARNESS_NOTE = re.compile(r"^\s*#.*\b(asserted below|assertions below|next cell asserts|NBVAL|nbval)", re.MULTILINE)
TQDM_TEXT = re.compile(r"\d+%\|")


def load(path):
    return nbformat.read(path, as_version=4)


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def ids(paths):
    return [p.name for p in paths]


def test_there_are_lessons():
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_harness_markers_in_code(path):
    """nbval markers are cell tags; code cells hold only what a learner should read."""
    for index, cell in enumerate(code_cells(load(path))):
        assert not NBVAL_COMMENT.search(cell.source), f"cell {index}: use a tag (nbval-ignore-output, ...), not a comment"
        assert not HARNESS_NOTE.search(cell.source), f"cell {index}: a note about testing is visible to readers"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_solutions_are_collapsed(path):
    """Code solutions carry hide-cell (code and output collapsed); written ones are dropdown admonitions."""
    for index, cell in enumerate(load(path).cells):
        tags = cell.metadata.get("tags", [])
        assert "hide-input" not in tags, f"cell {index}: hide-input shows the answer; use hide-cell"
        if cell.cell_type == "code" and cell.source.lstrip().startswith("# Solution"):
            assert "hide-cell" in tags, f"cell {index}: a solution cell must be tagged hide-cell"
        if cell.cell_type == "markdown" and re.search(r"\{admonition\}\s*(Solution|Why)", cell.source):
            assert ":class: dropdown" in cell.source, f"cell {index}: a written solution must be a dropdown"


def exercise_numbers(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and "## Exercises" in cell.source:
            section = cell.source.split("## Exercises", 1)[1]
            return {int(n) for n in re.findall(r"^(\d+)\. ", section, re.MULTILINE)}
    return set()


def solved_numbers(notebook):
    solved = set()
    for cell in notebook.cells:
        for words in re.findall(r"Solutions? to exercises? ([\d ,and]+)", cell.source):
            solved |= {int(n) for n in re.findall(r"\d+", words)}
    return solved


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_every_exercise_has_a_solution(path):
    notebook = load(path)
    exercises = exercise_numbers(notebook)
    assert exercises, "no numbered exercises under '## Exercises'"
    assert exercises <= solved_numbers(notebook), f"exercises without a solution: {exercises - solved_numbers(notebook)}"


def widget_models(notebook):
    return notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})


def is_tqdm_widget(output, models):
    """tqdm.notebook draws an HBox of (HTML, FloatProgress, HTML) whose text/plain repr is a text bar."""
    if TQDM_TEXT.search("".join(output.get("data", {}).get("text/plain", ""))):
        return True
    model = models.get(output["data"][WIDGET_VIEW]["model_id"], {})
    children = model.get("state", {}).get("children", [])
    kinds = [models.get(c.replace("IPY_MODEL_", ""), {}).get("model_name") for c in children]
    return kinds == ["HTMLModel", "FloatProgressModel", "HTMLModel"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_stored_outputs_need_no_widget_manager(path):
    """Progress bars are stored as their final text line; only the lesson's own widgets stay widgets."""
    notebook = load(path)
    models = widget_models(notebook)
    for index, cell in enumerate(code_cells(notebook)):
        for output in cell.outputs:
            if WIDGET_VIEW in output.get("data", {}):
                assert not is_tqdm_widget(output, models), f"cell {index}: a stored tqdm widget"
                assert path.name in WIDGET_LESSONS, f"cell {index}: a widget output in a lesson not about widgets"
            if output["output_type"] == "stream":
                assert "\r" not in output["text"], f"cell {index}: intermediate progress lines stored"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_stored_outputs_are_tidy_and_run_in_order(path):
    """What `make course` leaves: tidy outputs, execution counts 1..N, the python3 kernel."""
    notebook = load(path)
    assert notebook.metadata.kernelspec.name == "python3"
    cells = code_cells(notebook)
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1))
    for index, cell in enumerate(cells):
        original = json.dumps(cell.outputs, sort_keys=True)
        assert json.dumps(tidy_outputs(json.loads(original)), sort_keys=True) == original, f"cell {index}: run book/tidy_notebooks.py"


def test_tidy_drops_empty_displays_and_applies_carriage_returns():
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": "before\n"},
        {"output_type": "display_data", "data": {}, "metadata": {}},
        {"output_type": "stream", "name": "stdout", "text": "\rtraining:  50%\rtraining: 100%|██████████| 2/2 in 0.1 s\n"},
    ]
    assert tidy_outputs(outputs) == [
        {"output_type": "stream", "name": "stdout", "text": "before\ntraining: 100%|██████████| 2/2 in 0.1 s\n"}
    ]
