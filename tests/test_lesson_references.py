"""Each module of `sft_helpers` names, in its docstring, the lessons that use it ("Used in lessons: 02, 05", or
"Used in lessons: none"), and the notebooks hold it to that: a lesson that imports a module its docstring does not
name fails, and so does a named lesson that no longer imports it.

A lesson uses a module when one of its code cells imports it or imports a name from it, including the names the
package itself exports (`from sft_helpers import load_encoder` uses `pretrained`). Files only: no import of the
package, so this runs in well under a second.
"""
import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sft_helpers"
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
USED_IN = re.compile(r"^Used in lessons: (none|\d\d(?:, \d\d)*)\b", re.MULTILINE)
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def package_exports() -> dict[str, str]:
    """Names `sft_helpers/__init__.py` exports, mapped to the module each comes from."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    exports = {alias.asname or alias.name: node.module.split(".")[-1] for node in tree.body
               if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sft_helpers.")
               for alias in node.names}
    lazy = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "LAZY" for t in node.targets))
    source = next(alias.name for node in ast.walk(tree)  # the module `__getattr__` imports the lazy names from
                  if isinstance(node, ast.ImportFrom) and node.module == "sft_helpers" for alias in node.names)
    return exports | {name: source for name in ast.literal_eval(lazy)}


def modules_used(notebook: Path, exports: dict[str, str]) -> set[str]:
    """The `sft_helpers` modules a lesson's code cells import, or import names from."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    used = set()
    for node in ast.walk(ast.parse("\n".join(line for line in code.splitlines() if not line.startswith(("%", "!"))))):
        if isinstance(node, ast.ImportFrom) and node.module == "sft_helpers":
            used |= {alias.name if alias.name in MODULES else exports[alias.name] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sft_helpers."):
            used.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            used |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("sft_helpers.")}
    return used


def named_lessons(module: str) -> set[str] | None:
    """The lessons a module's docstring names (None when it has no "Used in lessons:" line)."""
    docstring = ast.get_docstring(ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))) or ""
    match = USED_IN.search(docstring)
    return None if match is None else set() if match.group(1) == "none" else set(match.group(1).split(", "))


def actual_lessons() -> dict[str, set[str]]:
    """For each module, the lessons (two-digit numbers) that import it."""
    exports, usage = package_exports(), {module: set() for module in MODULES}
    for lesson in LESSONS:
        for module in modules_used(lesson, exports):
            usage[module].add(lesson.name[:2])
    return usage


USAGE = actual_lessons()


def test_the_notebooks_use_the_package():
    """The parser finds what the lessons import (a broken parser would make every check below pass)."""
    assert {"train", "stats", "pretrained", "runtime"} <= {m for m, lessons in USAGE.items() if lessons}


@pytest.mark.parametrize("module", MODULES)
def test_module_names_the_lessons_that_use_it(module):
    named = named_lessons(module)
    assert named is not None, f"sft_helpers/{module}.py: its docstring needs a line 'Used in lessons: NN, NN' (or: none)"
    actual = USAGE[module]
    assert named == actual, (f"sft_helpers/{module}.py says 'Used in lessons: {', '.join(sorted(named)) or 'none'}', "
                             f"but the lessons that import it are: {', '.join(sorted(actual)) or 'none'}")
