"""The Chinese edition, made from the English lessons: only the prose is translated.

The English notebooks stay the source of code and outputs. Each lesson has one translation file,
`book/zh/translations/NN_name.yml`, that maps the id of every markdown cell to

    en: the English text the translation was made from (copied from the notebook when the cell was added)
    zh: its Chinese translation (empty until someone translates it)

From those files this script writes the Chinese notebooks, `notebooks/zh/NN_name.ipynb` (the English notebook
with its markdown cells replaced: code cells, outputs and metadata are copied unchanged), and the generated parts
of the Chinese book in `book/zh/` (its table of contents, mirroring the English one, and its claims ledger).

    python book/zh_edition.py check           # every markdown cell translated, and from the English it has now?
    python book/zh_edition.py sync            # add entries for new markdown cells (zh empty), drop deleted ones
    python book/zh_edition.py accept 03 ID..  # after re-translating stale cells: record the English they now follow
    python book/zh_edition.py build           # write notebooks/zh/*.ipynb, book/zh/_toc.yml, book/zh/claims.md
    python book/zh_edition.py book-source     # only book/zh/_toc.yml and book/zh/claims.md (the browser tests)

When the English text of a translated cell changes, `check` prints what changed (a diff of the English the
translation follows against the English now); fix `zh`, then `accept` the cell. `build` keeps going when a cell
has no current translation (it uses the English text and says so), so the book still builds; `check`, which runs
in `make test`, fails until the translation is done.
"""
from __future__ import annotations

import argparse
import copy
import difflib
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ZH_NOTEBOOKS = NOTEBOOKS / "zh"
BOOK = ROOT / "book"
ZH_BOOK = BOOK / "zh"
TRANSLATIONS = ZH_BOOK / "translations"
# Pages of the Chinese book written by hand (in book/zh/), besides the lessons and the generated claims ledger.
HAND_WRITTEN = {"intro", "glossary", "references"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def lessons(folder: Path | None = None) -> list[Path]:
    """The English lesson notebooks (or those in `folder`), in reading order."""
    return sorted((folder or NOTEBOOKS).glob("[0-9][0-9]_*.ipynb"))


def translation_file(lesson: Path) -> Path:
    """Where the translation of one lesson lives."""
    return TRANSLATIONS / f"{lesson.stem}.yml"


def markdown_cells(notebook) -> list:
    """The markdown cells of a notebook, in order."""
    return [cell for cell in notebook.cells if cell.cell_type == "markdown"]


def _block_strings(dumper, text: str):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(str, _block_strings)


def read_translations(path: Path) -> dict[str, dict]:
    """Cell id -> {"en": ..., "zh": ...} from a translation file (empty when the file does not exist)."""
    if not path.exists():
        return {}
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("cells") or {}


def write_translations(path: Path, lesson: Path, cells: dict[str, dict]) -> None:
    """Write a translation file, entries in the notebook's cell order, texts as YAML block scalars."""
    header = (f"# Chinese prose of notebooks/{lesson.name}: one entry per markdown cell, keyed by cell id.\n"
              "# en: the English the translation follows (do not edit by hand; see book/zh_edition.py accept)\n"
              "# zh: the translation\n")
    body = yaml.dump({"cells": cells}, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")


def english_changes(translated_from: str, now: str) -> str:
    """A unified diff of the English a translation follows against the English the cell has now."""
    diff = difflib.unified_diff(translated_from.splitlines(), now.splitlines(), "translated from", "English now",
                                lineterm="", n=1)
    return "\n".join("      " + line for line in diff)


def problems(notebooks: list[Path] | None = None, with_diffs: bool = True) -> list[str]:
    """Every markdown cell without a translation, or whose English changed after it was translated."""
    found = []
    for lesson in lessons() if notebooks is None else notebooks:
        path = translation_file(lesson)
        cells = markdown_cells(nbformat.read(lesson, as_version=4))
        if not path.exists():
            found.append(f"{lesson.stem}: no translation file {path.relative_to(ROOT)} ({len(cells)} markdown cells "
                         "to translate); start it with `python book/zh_edition.py sync`")
            continue
        entries = read_translations(path)
        for cell in cells:
            entry = entries.get(cell.id)
            start = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
            if entry is None or not (entry.get("zh") or "").strip():
                found.append(f"{lesson.stem} cell {cell.id}: not translated (\"{start}\")")
            elif entry.get("en") != cell.source:
                message = f"{lesson.stem} cell {cell.id}: the English changed after it was translated (\"{start}\")"
                if with_diffs:
                    message += "\n" + english_changes(entry.get("en") or "", cell.source)
                found.append(message)
    return found


def sync(notebooks: list[Path] | None = None) -> None:
    """Give every markdown cell an entry (zh empty for new ones) and drop entries of cells that are gone."""
    for lesson in lessons() if notebooks is None else notebooks:
        path = translation_file(lesson)
        old = read_translations(path)
        cells = {cell.id: old.get(cell.id, {"en": cell.source, "zh": ""})
                 for cell in markdown_cells(nbformat.read(lesson, as_version=4))}
        added, dropped = len(set(cells) - set(old)), len(set(old) - set(cells))
        write_translations(path, lesson, cells)
        print(f"{path.relative_to(ROOT)}: {len(cells)} cells, {added} new, {dropped} dropped")


def accept(lesson_prefix: str, cell_ids: list[str]) -> None:
    """Record that the translations of these cells now follow the English the cells have now."""
    (lesson,) = [p for p in lessons() if p.stem.startswith(lesson_prefix)]
    path = translation_file(lesson)
    entries = read_translations(path)
    current = {cell.id: cell.source for cell in markdown_cells(nbformat.read(lesson, as_version=4))}
    for cell_id in cell_ids:
        entries[cell_id]["en"] = current[cell_id]
    write_translations(path, lesson, entries)


def chinese_notebook(lesson: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """The lesson with its markdown in Chinese, and the ids of cells left in English for want of a translation."""
    notebook = nbformat.read(lesson, as_version=4)
    entries = read_translations(translation_file(lesson))
    untranslated = []
    for cell in markdown_cells(notebook):
        entry = entries.get(cell.id) or {}
        if (entry.get("zh") or "").strip() and entry.get("en") == cell.source:
            cell.source = entry["zh"]
        else:
            untranslated.append(cell.id)
    return notebook, untranslated


def write_notebooks() -> None:
    """notebooks/zh/NN_name.ipynb for every English lesson (and none for a lesson that is gone)."""
    ZH_NOTEBOOKS.mkdir(exist_ok=True)
    names = set()
    for lesson in lessons():
        notebook, untranslated = chinese_notebook(lesson)
        target = ZH_NOTEBOOKS / lesson.name
        names.add(target.name)
        text = nbformat.writes(notebook) + "\n"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        if untranslated:
            print(f"warning: {lesson.stem}: {len(untranslated)} markdown cells left in English (see `check`)")
    for stale in lessons(ZH_NOTEBOOKS):
        if stale.name not in names:
            stale.unlink()


def chinese_toc(english: dict) -> dict:
    """The Chinese book's table of contents: the English one, entry for entry (every page exists in both)."""
    toc = copy.deepcopy(english)
    missing = [entry["file"] for entry in toc.get("chapters", [])
               if not (entry["file"].startswith("notebooks/") or entry["file"] == "claims" or entry["file"] in HAND_WRITTEN)]
    if missing or toc.get("root") not in HAND_WRITTEN:
        raise SystemExit(f"pages of the English book with no Chinese counterpart: {missing or toc.get('root')}")
    return toc


CLAIMS_HEADER = """# 论断台账

各课检验的每一条论断，以及本次运行测得的结果。本页在构建时由 `book/zh_edition.py`（借助 `book/claims_ledger.py`）从已执行的 notebook 生成：每一行都来自一个计算了效应量及其 95% 置信区间、并用 `assert` 检查了结论的代码单元。论断与测量的文字由各课代码以英文写出，与英文版逐字相同；结论一栏的含义是：*Held*（成立）——整个区间都支持该论断；*Not distinguishable here*（此处无法区分）——区间包含零效应；*Reversed*（相反）——区间指向另一方向；*Partly*（部分成立）——课文说明了哪一部分成立。论断“一个模型与另一个一样好”带有运行前定下的容差（margin）：整个区间都高于负的容差时为成立，整个区间都低于负的容差时为相反。

"""


def chinese_claims(notebooks: list[Path]) -> str:
    """The claims ledger with a Chinese header; the rows (written by the lessons' code) stay as computed."""
    sys.path.insert(0, str(BOOK))
    from claims_ledger import HEADER, ledger_markdown

    english = ledger_markdown(notebooks)
    table = english[len(HEADER):].replace("| lesson | claim | measured | effect [95% interval] | verdict |",
                                          "| 课 | 论断 | 测量 | 效应 [95% 区间] | 结论 |", 1)
    count, _, rest = table.partition(" claims")
    return CLAIMS_HEADER + f"共 {count} 条论断" + rest


def build() -> None:
    """Write the Chinese notebooks and the generated pages of the Chinese book."""
    write_notebooks()
    write_book_source()
    print(f"Chinese edition: {len(lessons())} notebooks in {ZH_NOTEBOOKS.relative_to(ROOT)}, book source in "
          f"{ZH_BOOK.relative_to(ROOT)}")


def write_book_source() -> None:
    """The generated pages of the Chinese book: its table of contents and its claims ledger."""
    english = yaml.safe_load((BOOK / "_toc.yml").read_text(encoding="utf-8"))
    (ZH_BOOK / "_toc.yml").write_text("# Generated by book/zh_edition.py from book/_toc.yml: do not edit.\n"
                                      + yaml.safe_dump(chinese_toc(english), allow_unicode=True, sort_keys=False),
                                      encoding="utf-8")
    (ZH_BOOK / "claims.md").write_text(chinese_claims(lessons()), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="list markdown cells with no translation or a stale one")
    commands.add_parser("sync", help="add entries for new markdown cells, drop entries of deleted ones")
    accepting = commands.add_parser("accept", help="record that re-translated cells follow the current English")
    accepting.add_argument("lesson", help="the lesson's number, e.g. 03")
    accepting.add_argument("cell_ids", nargs="+")
    commands.add_parser("build", help="write notebooks/zh and the generated pages of book/zh")
    commands.add_parser("book-source", help="write only the generated pages of book/zh (_toc.yml, claims.md)")
    args = parser.parse_args(argv)
    if args.command == "check":
        found = problems()
        if found:
            print(*found, sep="\n")
        print(f"Chinese edition: {len(found)} problems (above)" if found
              else "Chinese edition: every markdown cell is translated from the English it has now")
        return 1 if found else 0
    if args.command == "sync":
        sync()
    elif args.command == "accept":
        accept(args.lesson, args.cell_ids)
    elif args.command == "book-source":
        write_book_source()
    else:
        build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
