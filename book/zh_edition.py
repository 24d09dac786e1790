"""The Chinese edition, made from the English lessons: only the prose is translated.

The English notebooks stay the source of code and outputs. Each lesson has one translation file,
`book/zh/translations/NN_name.yml`, that maps the id of every markdown cell to

    en: the English text the translation was made from (copied from the notebook when the cell was added)
    zh: its Chinese translation (empty until someone translates it)
    zh_hash: a hash of zh as it was when last accepted
    accepted_unchanged: (rarely) why zh was accepted unchanged although the English changed

From those files this script writes the Chinese notebooks, `notebooks/zh/NN_name.ipynb` (the English notebook
with its markdown cells replaced: code cells, outputs and metadata are copied unchanged, except the outputs that
state results: the claim lines, the "What we saw" summaries, the printed lines that give a verdict and the verdicts in
tables, which `book/zh_outputs.py` puts in Chinese with the run's numbers), and the generated parts of the Chinese book in `book/zh/` (its table of contents, mirroring the
English one, and its claims ledger, written by `book/zh_outputs.py`).

    python book/zh_edition.py check           # every markdown cell translated, and from the English it has now?
    python book/zh_edition.py sync            # add entries for new markdown cells (zh empty), drop deleted ones
    python book/zh_edition.py accept 03 ID..  # after re-translating stale cells: record the English they now follow
    python book/zh_edition.py accept 03 ID --reason "only a link changed"  # keep zh as it was (say why)
    python book/zh_edition.py accept page intro  # after updating book/zh/intro.md to a changed book/intro.md
    python book/zh_edition.py build           # write notebooks/zh/*.ipynb, book/zh/_toc.yml, book/zh/claims.md
    python book/zh_edition.py book-source     # only book/zh/_toc.yml and book/zh/claims.md (the browser tests)

When the English text of a translated cell changes, `check` prints what changed (a diff of the English the
translation follows against the English now); fix `zh`, then `accept` the cell. `build` keeps going when a cell
has no current translation (it uses the English text and says so), so the book still builds; `check`, which runs
in `make test`, fails until the translation is done. `accept` refuses a cell whose English changed while its
Chinese is still the one last accepted (its `zh_hash`), unless `--reason` says why the Chinese still holds.

`check` also reads each current translation against its English: it must be mostly Chinese (at most
MAX_LATIN_SHARE of its letters Latin, once code, math, links, numbers and the names it shares with the English are
left out), and it must have the English's numbers, as a multiset: digits in names (SmolLM2-135M, MiniLM-L6, F1) do
not count, units are converted (134.5 M = 1.345 亿, 22.7 million = 2,270 万; 双核 = 2-core), and an English number
word ("two epochs") may become digits. NUMBER_EXCEPTIONS lists the few cells that may have more.

The hand-written pages of the Chinese book (book/zh/intro.md, glossary.md, references.md) follow their English pages
(book/intro.md, ...) the same way: book/zh/translations/pages.yml keeps the English each follows, `check` shows what
changed since, and `accept page NAME` records the English as it is now.
"""
from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import re
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zh_outputs  # noqa: E402  (the claim lines, summaries and claims ledger in Chinese)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ZH_NOTEBOOKS = NOTEBOOKS / "zh"
BOOK = ROOT / "book"
ZH_BOOK = BOOK / "zh"
TRANSLATIONS = ZH_BOOK / "translations"
# Pages of the Chinese book written by hand (in book/zh/), besides the lessons and the generated claims ledger.
HAND_WRITTEN = {"intro", "glossary", "references"}
PAGES = "pages.yml"  # in TRANSLATIONS: the English each hand-written page follows
CJK = re.compile(r"[\u4e00-\u9fff]")


# ---- stricter checks on each translated cell: mostly Chinese, the same numbers --------------------------------------

# Text that a translation keeps as it is: fenced code, code spans, display and inline math, HTML tags, URLs and the
# targets of Markdown links and images.
_KEPT = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$|<[^>\n]*>|https?://\S+|\]\([^)\s]*\)",
                   re.S)
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'’^-]*")
# At most this share of a translated cell's letters may be Latin, once code, math, links, numbers and the names it
# shares with the English cell are left out. Notes that explain the English labels of a figure or table ("（表中
# right (of 80) 为……）") quote English words: the cells with such notes have the highest shares now (up to 0.37).
MAX_LATIN_SHARE = 0.4


def prose(text: str) -> str:
    """A cell's Markdown without what a translation keeps as it is (code, math, HTML tags, URLs, link targets)."""
    return _KEPT.sub(" ", text)


def _names(english: str) -> set[str]:
    """The Latin-script names of an English cell: words with a capital, a digit, "_" or "^" in them (model,
    function and data set names, abbreviations); a translation may keep them."""
    return {word for word in _LATIN_WORD.findall(english)
            if any(c.isupper() or c.isdigit() or c in "_^" for c in word)}


def latin_share(english: str, chinese: str) -> tuple[float, list[str]]:
    """The share of Latin letters among the letters of a translation, leaving out code, math, URLs, HTML tags and the
    names it shares with the English; and the Latin words counted (what reads as untranslated English)."""
    names, text = _names(prose(english)) | _names(english), prose(chinese)
    words = [word for word in _LATIN_WORD.findall(text) if word not in names]
    latin = sum(c.isascii() and c.isalpha() for word in words for c in word)
    cjk = len(CJK.findall(text))
    return (latin / (latin + cjk) if latin + cjk else 0.0), words


# A number in prose, as a value: "1,024", "0.05", "95%", "134.5 M", "22.7 million", "1.345 亿", "2,270 万". Signs are
# not kept (a translation may say "lower by 0.02" where the English says "−0.02").
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+")
_MULTIPLIER = re.compile(r" ?(?:(?P<unit>[kKMB])(?![A-Za-z])|(?P<word>thousand|million|billion)\b|(?P<zh>[万亿]))")
_MULTIPLIERS = {"k": 1_000, "K": 1_000, "thousand": 1_000, "M": 1_000_000, "million": 1_000_000,
                "B": 1_000_000_000, "billion": 1_000_000_000, "万": 10_000, "亿": 100_000_000}
# Chinese words that say a number of the English in characters, not digits: "2-core CPU" is 双核 CPU.
_CHINESE_COUNTS = {"双核": 2, "三分类": 3}
# English number words: a translation may write them as digits ("the top two layers", 顶部 2 层), or not.
_NUMBER_WORDS = {word: n for n, word in enumerate("zero one two three four five six seven eight nine ten eleven "
                                                  "twelve".split())}
# Cells whose Chinese may have numbers the English has not, and why (keep this short): (lesson prefix, cell id) ->
# the numbers. Most are notes that explain the English labels of a figure or table, numbers included.
NUMBER_EXCEPTIONS: dict[tuple[str, str], list[str]] = {
    ("02", "a648fd6f"): ["1", "1", "2", "2"],  # the figure's labels "top 1", "top 2", named and glossed
    ("02", "4a973c9f"): ["1"],  # "the top layer" named as the figures name it, 顶部 1 层
    ("10", "bdfd4b81"): ["8", "8"],  # the table's label "first 8 items", glossed
    ("11", "f0e1a009"): ["80", "80", "95", "95"],  # the table's labels "right (of 80)", "[95% interval]", glossed
}


def numbers(text: str) -> Counter:
    """The numbers of a cell's prose as values (a multiset), leaving out code, math, links and the digits of names
    ("SmolLM2-135M", "MiniLM-L6", "F1", "R^2"); "134.5 M", "134.5 million" and "1.345 亿" are all 134500000."""
    text = prose(text)
    found = Counter()
    for word, value in _CHINESE_COUNTS.items():
        found[Decimal(value)] += text.count(word)
    for match in _NUMBER.finditer(text):
        start, end = match.span()
        before = text[start - 1] if start else " "
        if before.isascii() and (before.isalnum() or before in "_.^={"):
            continue  # part of a name: SmolLM2, F1, L6, v2
        if before == "-" and start > 1 and text[start - 2].isascii() and text[start - 2].isdigit():
            continue  # SmolLM2-135M
        value = Decimal(match.group().replace(",", ""))
        multiplier = _MULTIPLIER.match(text, end)
        if multiplier:
            value *= _MULTIPLIERS[multiplier.group("unit") or multiplier.group("word") or multiplier.group("zh")]
        found[value.normalize()] += 1
    return +found


def number_words(text: str) -> Counter:
    """The English number words of a text ("two epochs", "One-star") as values."""
    return Counter(Decimal(_NUMBER_WORDS[w.lower()]) for w in re.findall(r"[A-Za-z]+", prose(text))
                   if w.lower() in _NUMBER_WORDS)


def number_differences(english: str, chinese: str, allowed: list[str] = ()) -> tuple[Counter, Counter]:
    """The numbers of the English missing from the Chinese, and those of the Chinese the English has not (after
    leaving out the digits the English writes as words, and the `allowed` ones)."""
    en, zh = numbers(english), numbers(chinese)
    extra = zh - en - number_words(english) - Counter(Decimal(n).normalize() for n in allowed)
    return en - zh, extra


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
              "# zh: the translation\n"
              "# zh_hash: the hash of zh when it was last accepted\n"
              "# accepted_unchanged: why zh stayed as it was when en changed\n")
    body = yaml.dump({"cells": cells}, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")


def english_changes(translated_from: str, now: str) -> str:
    """A unified diff of the English a translation follows against the English the cell has now."""
    diff = difflib.unified_diff(translated_from.splitlines(), now.splitlines(), "translated from", "English now",
                                lineterm="", n=1)
    return "\n".join("      " + line for line in diff)


def problems(notebooks: list[Path] | None = None, with_diffs: bool = True) -> list[str]:
    """Every markdown cell without a translation, whose English changed after it was translated, or whose translation
    is not mostly Chinese or has other numbers than the English; with all lessons, every hand-written page whose
    English changed; and the problems of the translated results (book/zh_outputs.py)."""
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
            else:
                found += cell_problems(lesson.stem, cell.id, start, entry["en"], entry["zh"])
    if notebooks is None:
        found += page_problems(with_diffs)
    return found + zh_outputs.problems(lessons() if notebooks is None else notebooks)


def _shown_numbers(values: Counter) -> str:
    """A multiset of numbers as a message shows it: "1, 2, 2", or "none"."""
    return ", ".join(format(value, "f") for value in sorted(values.elements())) or "none"


def cell_problems(stem: str, cell_id: str, start: str, english: str, chinese: str) -> list[str]:
    """What is wrong with a current translation of a cell: too much of it left in English, or numbers that differ
    from the English's (digits of names, code and math left out; units converted: 134.5 M = 1.345 亿)."""
    found = []
    share, words = latin_share(english, chinese)
    if share > MAX_LATIN_SHARE:
        found.append(f"{stem} cell {cell_id}: mostly not Chinese ({share:.0%} of its letters are Latin, more than "
                     f"{MAX_LATIN_SHARE:.0%}) (\"{start}\"): {' '.join(words[:30])}")
    missing, extra = number_differences(english, chinese, NUMBER_EXCEPTIONS.get((stem[:2], cell_id), []))
    if missing or extra:
        found.append(f"{stem} cell {cell_id}: the numbers differ from the English's (\"{start}\"): "
                     f"the Chinese lacks {_shown_numbers(missing)}; it has {_shown_numbers(extra)} that the English "
                     "has not (English number words may become digits; a note on a figure's labels may need an entry "
                     "in NUMBER_EXCEPTIONS in book/zh_edition.py)")
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


def zh_hash(text: str) -> str:
    """A short hash of a translation, stored as `zh_hash` when it is accepted (so `accept` knows whether it changed)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def accept(lesson_prefix: str, cell_ids: list[str], reason: str | None = None) -> None:
    """Record that the translations of these cells now follow the English the cells have now, and the hash of the
    translation they were accepted with. A cell whose English changed while its translation stayed as it was when
    last accepted is refused, unless `reason` says why the translation still holds (it is kept as
    `accepted_unchanged`)."""
    if lesson_prefix == "page":
        accept_pages(cell_ids)
        return
    (lesson,) = [p for p in lessons() if p.stem.startswith(lesson_prefix)]
    path = translation_file(lesson)
    entries = read_translations(path)
    current = {cell.id: cell.source for cell in markdown_cells(nbformat.read(lesson, as_version=4))}
    unchanged = [cell_id for cell_id in cell_ids if entries[cell_id].get("en") != current[cell_id]
                 and entries[cell_id].get("zh_hash") == zh_hash(entries[cell_id].get("zh") or "")]
    if unchanged and not reason:
        raise SystemExit(f"{lesson.stem}: the English of {', '.join(unchanged)} changed but not its Chinese (the zh is "
                         "the one last accepted): translate the change, or, if the Chinese still says the same, "
                         "accept with --reason \"why\"")
    for cell_id in cell_ids:
        entry = entries[cell_id]
        entry["en"] = current[cell_id]
        entry["zh_hash"] = zh_hash(entry.get("zh") or "")
        entry.pop("accepted_unchanged", None)
        if cell_id in unchanged:
            entry["accepted_unchanged"] = reason
    write_translations(path, lesson, entries)


# ---- the hand-written pages: book/zh/NAME.md translates book/NAME.md ----------------------------------------------

def read_pages() -> dict[str, str]:
    """Page name -> the English text its Chinese page follows (from book/zh/translations/pages.yml)."""
    path = TRANSLATIONS / PAGES
    return ((yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}).get("pages") or {}


def accept_pages(names: list[str]) -> None:
    """Record that the Chinese of these hand-written pages follows their English as it is now."""
    unknown = sorted(set(names) - HAND_WRITTEN)
    if unknown:
        raise SystemExit(f"not a hand-written page: {', '.join(unknown)} "
                         f"(the pages are {', '.join(sorted(HAND_WRITTEN))})")
    pages = read_pages()
    for name in names:
        pages[name] = (BOOK / f"{name}.md").read_text(encoding="utf-8")
    header = ("# The English of each hand-written page of the Chinese book (book/NAME.md) that its Chinese page\n"
              "# (book/zh/NAME.md) follows. Do not edit by hand: `python book/zh_edition.py accept page NAME`.\n")
    body = yaml.dump({"pages": dict(sorted(pages.items()))}, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                     width=100_000)
    (TRANSLATIONS / PAGES).write_text(header + body, encoding="utf-8")


def page_problems(with_diffs: bool = True) -> list[str]:
    """Every hand-written Chinese page whose English page changed since the Chinese was last accepted."""
    found, pages = [], read_pages()
    for name in sorted(HAND_WRITTEN):
        english = (BOOK / f"{name}.md").read_text(encoding="utf-8")
        if name not in pages:
            found.append(f"page {name}: no record of the English book/zh/{name}.md follows; check it against "
                         f"book/{name}.md, then `python book/zh_edition.py accept page {name}`")
        elif pages[name] != english:
            message = (f"page {name}: book/{name}.md changed after book/zh/{name}.md was translated; update it, then "
                       f"`python book/zh_edition.py accept page {name}`")
            if with_diffs:
                message += "\n" + english_changes(pages[name], english)
            found.append(message)
    return found


def chinese_notebook(lesson: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """The lesson with its markdown in Chinese, and the ids of cells left in English for want of a translation."""
    notebook = nbformat.read(lesson, as_version=4)
    zh_outputs.translate_outputs(notebook, lesson)  # before the markdown is replaced: it finds "What we saw"
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


def chinese_claims(notebooks: list[Path]) -> str:
    """The claims ledger in Chinese: counted verdicts, and every row's texts from book/zh/translations/outputs."""
    return zh_outputs.chinese_claims(notebooks)


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
    accepting = commands.add_parser("accept",
                                    help="record that re-translated cells (or pages) follow the current English")
    accepting.add_argument("lesson", help="the lesson's number, e.g. 03, or `page` for hand-written pages")
    accepting.add_argument("cell_ids", nargs="+")
    accepting.add_argument("--reason", help="why a cell whose English changed keeps its Chinese as it was")
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
        accept(args.lesson, args.cell_ids, args.reason)
    elif args.command == "book-source":
        write_book_source()
    else:
        build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
