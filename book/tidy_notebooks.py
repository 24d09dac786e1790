"""Tidy executed notebooks' stored outputs so they read the same in JupyterLab, the book and GitHub's viewer.

`make course` runs this after executing the lessons. It
- drops the empty displays a finished progress bar leaves behind (see sft_helpers/progress.py),
- merges consecutive stream outputs of the same name and applies carriage returns, as nbval and
  JupyterLab do, so no stored text holds intermediate progress lines.
- replaces a stored tqdm widget (a library's own progress bar, e.g. transformers converting a GGUF file) by
  the final text line it showed, taken from the saved widget state, and drops widget state nothing uses.
Empty displays and stream boundaries are invisible to nbval's comparison; a replaced tqdm widget only ever
sits in a cell whose output nbval ignores (a library's bar shows timings).

Usage: python book/tidy_notebooks.py notebooks/*.ipynb
"""
from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import nbformat

CARRIAGE_RETURN = re.compile(r"^.*\r(?=[^\n])", re.MULTILINE)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
TQDM_RIGHT = re.compile(r"\s*(\d+)/(\d+) \[(?:(\d+):)?(\d+):(\d+)")


def tqdm_final_line(models: dict, model_id: str) -> str | None:
    """The final text line of a stored tqdm widget (HBox of HTML, FloatProgress, HTML), or None if it is not one."""
    model = models.get(model_id, {})
    children = [models.get(c.replace("IPY_MODEL_", ""), {}) for c in model.get("state", {}).get("children", [])]
    if [c.get("model_name") for c in children] != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, right = (html.unescape(c["state"]["value"]).replace("\u2007", " ") for c in (children[0], children[2]))
    match = TQDM_RIGHT.match(right)
    if not match:
        return None
    desc = re.sub(r"\s*\d+%$", "", left).rstrip(": ")
    seconds = int(match[3] or 0) * 3600 + int(match[4]) * 60 + int(match[5])
    from sft_helpers.progress import final_line

    return final_line(desc, int(match[1]), int(match[2]), f"{seconds} s") + "\n"


def replace_tqdm_widgets(notebook) -> None:
    """Stored tqdm widgets become their final text line; widget state that no output needs is dropped."""
    models = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    roots = []
    for cell in notebook.cells:
        for index, output in enumerate(cell.get("outputs", [])):
            if WIDGET_VIEW not in output.get("data", {}):
                continue
            model_id = output["data"][WIDGET_VIEW]["model_id"]
            line = tqdm_final_line(models, model_id)
            if line is None:
                roots.append(model_id)
            else:
                cell.outputs[index] = nbformat.v4.new_output("stream", name="stdout", text=line)
    if models:
        keep, todo = set(), roots
        while todo:
            model_id = todo.pop()
            if model_id in models and model_id not in keep:
                keep.add(model_id)
                todo += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(models[model_id]))
        if keep:
            notebook.metadata.widgets[WIDGET_STATE]["state"] = {k: v for k, v in models.items() if k in keep}
        else:
            del notebook.metadata["widgets"]


def tidy_outputs(outputs: list) -> list:
    """The outputs without empty displays, with consecutive same-name streams merged and \\r applied."""
    tidy: list = []
    for output in outputs:
        if output["output_type"] == "display_data" and not output.get("data"):
            continue
        last = tidy[-1] if tidy else None
        if output["output_type"] == "stream" and last and last["output_type"] == "stream" and last["name"] == output["name"]:
            last["text"] += output["text"]
        else:
            tidy.append(output)
    for output in tidy:
        if output["output_type"] == "stream":
            output["text"] = CARRIAGE_RETURN.sub("", output["text"])
    return tidy


def tidy_notebook(path: Path) -> bool:
    """Tidy one notebook in place; True when it changed."""
    notebook = nbformat.read(path, as_version=4)
    before = nbformat.writes(notebook)
    replace_tqdm_widgets(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = tidy_outputs(cell.outputs)
    after = nbformat.writes(notebook)
    if after != before:
        nbformat.write(notebook, str(path))
    return after != before


if __name__ == "__main__":
    for name in sys.argv[1:]:
        if tidy_notebook(Path(name)):
            print(f"tidied {name}")
