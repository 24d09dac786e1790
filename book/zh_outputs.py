"""The Chinese edition's results, in Chinese with the numbers of the run: claim lines, summaries, result lines, the
verdicts in tables and the claims ledger.

The lessons state their results from code, in English: `sft_helpers.stats.record_claim` shows each claim as a line
"**Claim →** claim: measured, interval unit → **verdict**." (and stores it as `application/vnd.sft-course.claim+json`
for the claims ledger), and the code cell right after each lesson's "What we saw" heading prints a summary. Their
numbers come from the run, so the Chinese edition never types them. Each lesson has a file
`book/zh/translations/outputs/NN_name.yml` with one entry per English text, in which every number has become a
numbered placeholder:

    en: "Two simulated annotators agreed at κ {0} [{1}, {2}], neutral lowest ({3}); adjudication changed {4} of A's labels."
    zh: "两位模拟标注者的一致性为 κ {0} [{1}, {2}]，中性类最低（{3}）；裁决改动了 A 的 {4} 个标签。"

`claims` holds the claim and measured texts of the lesson's claims, `summary` the items (bullets) of its "What we saw"
output, `results` the result lines of its other code cells' outputs: every printed line that reports a verdict or says
whether a difference is distinguishable ("top 1 layer − head only  9.63 [2.75, 17.4] points → held"), and every
paragraph of Markdown a cell shows (the lessons show Markdown only to state a result; its lines joined, as Markdown
shows them). A verdict word after "(", ": ", ", ", "→ " or "-> " ("(held)", ": not distinguishable here") is a
placeholder too, filled with its Chinese (成立, 无法区分, 相反, 部分成立). `units.yml` maps the claims' units. When the
lesson runs again, its numbers change but not its `en` patterns, so the translations stay current and show the new
numbers; when its wording changes, the pattern has no translation until someone writes one.

At build (`book/zh_edition.py build`) every claim output of a Chinese notebook gets the Chinese sentence
"**论断 →** 论断：测量，区间 单位 → **结论**。", every summary item and result line its Chinese, and every table
(a DataFrame's HTML and plain text) its verdicts in Chinese where a verdict fills a cell (no template needed: the
verdicts are a fixed set; the plain text is padded to keep its columns aligned); a text with no current translation
stays in English. The claims ledger of the Chinese book (`book/zh/claims.md`) is written here too.

    python book/zh_outputs.py check           # every claim, summary and result text has a template, right placeholders?
    python book/zh_outputs.py sync [--prune]  # add entries (zh empty) for new texts; --prune drops unused ones
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sft_helpers.stats import CLAIM_MIME, HELD, NOT_DISTINGUISHABLE, REVERSED, Interval  # noqa: E402
from claims_ledger import claims_in, detectable_text, interval_text  # noqa: E402  (book/, beside this file: the English ledger's)

NOTEBOOKS = ROOT / "notebooks"
OUTPUTS = ROOT / "book" / "zh" / "translations" / "outputs"
UNITS = "units.yml"
SUMMARY_HEADING = re.compile(r"(?m)^#{1,6}\s+What we saw\s*$")
PARTLY = "partly"  # the lessons' word for a claim of which only a part held (stats.py has no constant for it)
VERDICTS = {HELD: "成立", NOT_DISTINGUISHABLE: "无法区分", REVERSED: "相反", PARTLY: "部分成立"}

# A number: signed or not, with thousands separators, decimals or an exponent ("1,024", "-0.0386", "+2.15", "1e-5").
_NUMBER = re.compile(r"(?P<sign>[-+−])?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+)")
_VERDICT_WORDS = "|".join(sorted(map(re.escape, VERDICTS), key=len, reverse=True))
# A verdict word where a lesson reports one: "(held)", ": not distinguishable here", ", held", "→ reversed", "-> held".
_VERDICT = re.compile(r"(?:(?<=\()|(?<=[:,→] )|(?<=-> ))(?:" + _VERDICT_WORDS + r")(?![\w-])")
# A printed line that states a result: it reports a verdict, or says whether a difference is distinguishable.
_RESULT = re.compile(_VERDICT.pattern + r"|\bdistinguishable\b")
# A line of Markdown that starts a block of its own (a list item, a heading, a table row), not a paragraph's next line.
_BLOCK_START = re.compile(r"\s*(?:[-*+] |\d+[.)] |#|\|)")
# A verdict that fills a table cell: in a DataFrame's HTML, and in its plain text (columns apart by two spaces or more).
_HTML_VERDICT = re.compile(r"(?P<open><td[^>]*>)\s*(?P<verdict>" + _VERDICT_WORDS + r")\s*(?P<close></td>)")
_PLAIN_VERDICT = re.compile(r"(?P<gap> {2,})(?P<verdict>" + _VERDICT_WORDS + r")(?= {2}| *\\?$)", re.M)
_PLACEHOLDER = re.compile(r"\{(\d+)\}")
_NAME_CHARS = "_.^={"  # a digit after a letter or one of these belongs to a name: SmolLM2, F1, R^2, r=8, MiniLM-L6


def _is_number(text: str, match: re.Match) -> bool:
    """Whether a number-looking match is a value, not part of a name ("SmolLM2-135M", "macro-F1", "$R^2$")."""
    start = match.start()
    before = text[start - 1] if start else " "
    return not (before.isalnum() or before in _NAME_CHARS)


def abstract(text: str) -> tuple[str, list[str]]:
    """The pattern of an English text (every number and reported verdict a placeholder {0}, {1}, ...) and its values."""
    found = [(m.start(), m.end()) for m in _NUMBER.finditer(text) if _is_number(text, m)]
    found += [(m.start(), m.end()) for m in _VERDICT.finditer(text)]
    pattern, values, at = [], [], 0
    for start, end in sorted(found):
        pattern.append(text[at:start] + "{%d}" % len(values))
        values.append(text[start:end])
        at = end
    return "".join(pattern) + text[at:], values


def placeholders(template: str) -> list[int]:
    """The placeholder numbers a template uses, sorted, each once."""
    return sorted({int(n) for n in _PLACEHOLDER.findall(template)})


def fill(template: str, values: list[str]) -> str:
    """The Chinese template with the run's values in its placeholders (verdict words in Chinese)."""
    return _PLACEHOLDER.sub(lambda m: VERDICTS.get(values[int(m.group(1))], values[int(m.group(1))]), template)


def verdict_zh(verdict: str) -> str:
    """The Chinese of a verdict ("held" -> 成立); an unknown verdict stays as it is."""
    return VERDICTS.get(verdict, verdict)


# ---- the template files -------------------------------------------------------------------------------------------

def _shown(path: Path) -> str:
    """A path as messages show it: from the repository root when it lies inside."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def outputs_file(lesson: Path) -> Path:
    """Where the Chinese of one lesson's results lives."""
    return OUTPUTS / f"{lesson.stem}.yml"


SECTIONS = ("claims", "summary", "results")  # of a lesson's file; see the module's docstring


def read_entries(path: Path) -> dict[str, list[dict]]:
    """{"claims": [{"en", "zh"}, ...], "summary": [...], "results": [...]} from a lesson's file (empty lists when
    there is none)."""
    data = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
    return {section: list(data.get(section) or []) for section in SECTIONS}


def read_templates(lesson: Path, usable: bool = True) -> dict[str, str]:
    """English pattern -> Chinese template, for the entries of one lesson that are translated (and, when `usable`,
    whose placeholders are those of their pattern: the build leaves the others in English, `check` names them)."""
    return {entry["en"]: entry["zh"] for entries in read_entries(outputs_file(lesson)).values() for entry in entries
            if (entry.get("zh") or "").strip()
            and not (usable and placeholders(entry["zh"]) != placeholders(entry.get("en") or ""))}


def read_units() -> dict[str, str]:
    """English unit -> Chinese unit (only those translated)."""
    path = OUTPUTS / UNITS
    units = ((yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}).get("units") or {}
    return {en: zh for en, zh in units.items() if zh is not None and str(zh).strip()}


class _Dumper(yaml.SafeDumper):
    pass


def _strings(dumper, text: str):
    plain = re.fullmatch(r"[a-z]+", text) is not None  # the keys (en, zh, claims, summary, results), one-word units
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=None if plain else '"')


_Dumper.add_representer(str, _strings)


def write_entries(path: Path, lesson: Path, entries: dict[str, list[dict]]) -> None:
    """Write a lesson's file: one entry per English pattern, every text double-quoted on one line."""
    header = (f"# Chinese of the results notebooks/{lesson.name} prints (see book/zh_outputs.py).\n"
              "# en: the English with every number (and reported verdict) as a placeholder {0}, {1}, ... (written by\n"
              "#     `python book/zh_outputs.py sync`; do not edit)\n"
              "# zh: the Chinese, with the same placeholders; the build fills them with this run's values\n"
              "# claims: the claim and measured texts of the lesson's claims; summary: the items of its \"What we saw\"\n"
              "# output; results: the result lines (with a verdict) of its other outputs, and its Markdown outputs\n")
    body = yaml.dump(entries, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100_000)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")


# ---- what a notebook states ---------------------------------------------------------------------------------------

def summary_cells(notebook) -> list:
    """The code cells that print a lesson's summary: each right after a markdown cell with a "What we saw" heading."""
    cells = notebook.cells
    return [cells[i + 1] for i, cell in enumerate(cells[:-1]) if cell.cell_type == "markdown"
            and SUMMARY_HEADING.search(cell.source) and cells[i + 1].cell_type == "code"]


def claim_outputs(notebook) -> list:
    """The outputs that hold a recorded claim, in cell order."""
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
            if CLAIM_MIME in output.get("data", {})]


def _summary_texts(output) -> list[tuple[str, str]]:
    """(where, text) of the parts of a summary output that are prose: printed text, or Markdown shown."""
    if output.get("output_type") == "stream":
        return [("text", output.get("text", ""))]
    data = output.get("data", {})
    return [("text/markdown", data["text/markdown"])] if "text/markdown" in data else []


def items(text: str) -> list[tuple[str, bool]]:
    """The text cut into pieces (piece, is an item): an item is a line that starts without indentation with its
    indented continuation lines (a bullet wrapped over several lines in Markdown); blank lines stand alone."""
    pieces: list[list] = []
    for line in text.splitlines(keepends=True):
        if line.strip() and line[0] in " \t" and pieces and pieces[-1][1]:
            pieces[-1][0] += line
        else:
            pieces.append([line, bool(line.strip())])
    return [(piece, is_item) for piece, is_item in pieces]


_ITEM = re.compile(r"(?s)(?P<lead>\s*(?:[-*] )?)(?P<core>.*?)(?P<trail>\s*)")


def item_text(piece: str) -> tuple[str, str, str]:
    """(lead, text, trail) of an item: its bullet, its words on one line, its closing newline."""
    match = _ITEM.fullmatch(piece)
    return match["lead"], re.sub(r"\s*\n\s*", " ", match["core"]), match["trail"]


def summary_items(notebook) -> list[str]:
    """The English items (one line each, numbers as they are) of every summary output of a notebook."""
    return [item_text(piece)[1] for cell in summary_cells(notebook) for output in cell.get("outputs", [])
            for _, text in _summary_texts(output) for piece, is_item in items(text) if is_item]


def result_outputs(notebook) -> list:
    """The outputs that may state results besides the claims and summaries: those of the other code cells, claim
    outputs left out."""
    summaries = {id(cell) for cell in summary_cells(notebook)}
    return [output for cell in notebook.cells if cell.cell_type == "code" and id(cell) not in summaries
            for output in cell.get("outputs", []) if CLAIM_MIME not in output.get("data", {})]


def result_pieces(where: str, text: str) -> list[tuple[str, bool]]:
    """A printed text or a Markdown output cut into pieces (piece, states a result): printed text line by line, a
    line stating a result when it reports a verdict or says whether something is distinguishable; Markdown paragraph
    by paragraph (a list item, heading or table row starts a new one), every paragraph a result."""
    pieces: list[list] = []
    for line in text.splitlines(keepends=True):
        if where == "text":
            pieces.append([line, _RESULT.search(line) is not None])
        elif line.strip() and pieces and pieces[-1][1] and not _BLOCK_START.match(line):
            pieces[-1][0] += line
        else:
            pieces.append([line, bool(line.strip())])
    return [(piece, is_result) for piece, is_result in pieces]


def result_lines(notebook) -> list[str]:
    """The English result lines (one line each, numbers as they are) of a notebook's outputs other than its claims
    and summaries."""
    return [item_text(piece)[1] for output in result_outputs(notebook) for where, text in _summary_texts(output)
            for piece, is_result in result_pieces(where, text) if is_result]


def translate_text(text: str, templates: dict[str, str], pieces=None) -> tuple[str, list[str]]:
    """A summary text with every item that has a template in Chinese, and the English items that have none (the
    items: those of `items`, or of `pieces`, a text cut as `result_pieces` does)."""
    out, missing = [], []
    for piece, is_item in (items(text) if pieces is None else pieces):
        if not is_item:
            out.append(piece)
            continue
        lead, core, trail = item_text(piece)
        pattern, values = abstract(core)
        if pattern in templates:
            out.append(lead + fill(templates[pattern], values) + trail)
        else:
            out.append(piece)
            missing.append(core)
    return "".join(out), missing


def _width(text: str) -> int:
    """How many columns a text takes in a monospaced font (a Chinese character two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _plain_cell(match: re.Match) -> str:
    """A verdict filling a cell of a table's plain text, in Chinese, right-aligned in the columns it had."""
    verdict, chinese = match["verdict"], verdict_zh(match["verdict"])
    return " " * max(1, len(match["gap"]) + _width(verdict) - _width(chinese)) + chinese


def translate_table(output) -> None:
    """Put the verdicts that fill cells of a table output (a DataFrame's HTML, and its plain text) in Chinese, in
    place; everything else, numbers included, stays as it is."""
    data = output.get("data", {})
    if "<table" not in data.get("text/html", ""):
        return
    data["text/html"] = _HTML_VERDICT.sub(lambda m: m["open"] + verdict_zh(m["verdict"]) + m["close"],
                                          data["text/html"])
    if "text/plain" in data:
        data["text/plain"] = _PLAIN_VERDICT.sub(_plain_cell, data["text/plain"])


def _translated(text: str, templates: dict[str, str]) -> str | None:
    """One text (a claim, what was measured) in Chinese, or None without a template."""
    pattern, values = abstract(text)
    return fill(templates[pattern], values) if pattern in templates else None


def claim_sentence(claim: dict, templates: dict[str, str], units: dict[str, str]) -> str | None:
    """The Chinese claim line, "**论断 →** 论断：测量，区间 单位（容差 m 单位）→ **结论**。", or None when a part of
    it has no translation."""
    text, measured = _translated(claim["claim"], templates), _translated(claim["measured"], templates)
    unit = units.get(claim["unit"]) if claim["unit"] else ""
    if None in (text, measured, unit) or claim["verdict"] not in VERDICTS:
        return None
    effect = Interval(**claim["effect"])
    margin = "" if claim.get("margin") is None else f"（容差 {claim['margin']:g} {unit}）".replace(" ）", "）")
    shown = f"{effect} {unit}".strip()
    return f"**论断 →** {text}：{measured}，{shown}{margin}{'' if margin else ' '}→ **{verdict_zh(claim['verdict'])}**。"


def translate_outputs(notebook, lesson: Path) -> int:
    """Put the claim lines, summaries, result lines and table verdicts of a lesson notebook (its English markdown
    still in place, to find the summaries) in Chinese, in place; returns how many texts were left in English for want
    of a translation."""
    templates, units, left = read_templates(lesson), read_units(), 0
    for output in claim_outputs(notebook):
        sentence = claim_sentence(output["data"][CLAIM_MIME], templates, units)
        if sentence is None:
            left += 1
            continue
        output["data"]["text/markdown"] = sentence
        if "text/plain" in output["data"]:
            output["data"]["text/plain"] = sentence
    summaries = [(output, False) for cell in summary_cells(notebook) for output in cell.get("outputs", [])]
    for output, results in summaries + [(output, True) for output in result_outputs(notebook)]:
        for where, text in _summary_texts(output):
            chinese, missing = translate_text(text, templates, result_pieces(where, text) if results else None)
            left += len(missing)
            if where == "text":
                output["text"] = chinese
            else:
                output["data"][where] = chinese
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            translate_table(output)
    if left:
        print(f"warning: {lesson.stem}: {left} results left in English (see `python book/zh_outputs.py check`)")
    return left


# ---- check and sync ----------------------------------------------------------------------------------------------

def required(lesson: Path) -> dict[str, list[str]]:
    """The English texts a lesson states (numbers as they are): {"claims": [...], "summary": [...], "results": [...],
    "units": [...], "verdicts": [...]}."""
    notebook = nbformat.read(lesson, as_version=4)
    claims = [output["data"][CLAIM_MIME] for output in claim_outputs(notebook)]
    return {"claims": [text for claim in claims for text in (claim["claim"], claim["measured"])],
            "summary": summary_items(notebook),
            "results": result_lines(notebook),
            "units": [claim["unit"] for claim in claims if claim["unit"]],
            "verdicts": [claim["verdict"] for claim in claims]}


_KIND = {"claims": "claim", "summary": "summary", "results": "result"}


def _nearest(pattern: str, unused: list[dict]) -> dict | None:
    """The unused entry whose English is closest to a new pattern (its translation is a start for the new one)."""
    scored = [(difflib.SequenceMatcher(None, pattern, entry["en"]).ratio(), i) for i, entry in enumerate(unused)]
    best = max(scored, default=(0, None))
    return unused[best[1]] if best[0] >= 0.6 else None


def problems(notebooks: list[Path]) -> list[str]:
    """Every claim, summary or result text of these lessons without a current Chinese template, every template whose
    placeholders differ from its English pattern's, and every unit or verdict without Chinese."""
    found, units = [], read_units()
    for lesson in notebooks:
        entries = read_entries(outputs_file(lesson))
        templates = read_templates(lesson, usable=False)  # a template with wrong placeholders is reported below
        texts = required(lesson)
        current = {abstract(text)[0] for kind in SECTIONS for text in texts[kind]}
        unused = [entry for kind in SECTIONS for entry in entries[kind] if entry.get("en") not in current]
        for kind in SECTIONS:
            first = {}  # each pattern once, with the first text that has it
            for text in texts[kind]:
                first.setdefault(abstract(text)[0], text)
            for pattern, text in first.items():
                if pattern in templates:
                    continue
                message = (f"{lesson.stem}: no Chinese for this {_KIND[kind]} text "
                           f"(`python book/zh_outputs.py sync` adds it; write its zh in "
                           f"{_shown(outputs_file(lesson))}):\n      {text}")
                old = _nearest(pattern, [entry for entry in unused if (entry.get("zh") or "").strip()])
                if old is not None:
                    message += ("\n      the English changed after it was translated; it was:\n      " + old["en"]
                                + "\n      translated as:\n      " + old["zh"])
                found.append(message)
        for entry in (entry for kind in SECTIONS for entry in entries[kind]):
            en, zh = entry.get("en") or "", entry.get("zh") or ""
            if [int(n) for n in _PLACEHOLDER.findall(en)] != list(range(len(_PLACEHOLDER.findall(en)))):
                found.append(f"{lesson.stem}: an en that is not a pattern (placeholders {{0}}, {{1}}, ... from the "
                             f"left): {en}")
            elif zh.strip() and placeholders(zh) != placeholders(en):
                found.append(f"{lesson.stem}: the Chinese has placeholders {placeholders(zh)}, its English "
                             f"{placeholders(en)}:\n      en: {en}\n      zh: {zh}")
        for unit in dict.fromkeys(texts["units"]):
            if unit not in units:
                found.append(f"{lesson.stem}: no Chinese for the unit {unit!r} in {_shown(OUTPUTS / UNITS)}")
        for verdict in dict.fromkeys(texts["verdicts"]):
            if verdict not in VERDICTS:
                found.append(f"{lesson.stem}: no Chinese for the verdict {verdict!r} (VERDICTS in book/zh_outputs.py)")
    return found


def sync(notebooks: list[Path], prune: bool = False) -> None:
    """Add an entry (zh empty) for every claim, summary or result text without one, and a unit entry for every new unit;
    with `prune`, drop the entries no output uses any more."""
    all_units = []
    for lesson in notebooks:
        path = outputs_file(lesson)
        old = read_entries(path)
        texts = required(lesson)
        all_units += texts["units"]
        known = {entry["en"]: entry for entries in old.values() for entry in entries}
        current = {kind: list(dict.fromkeys(abstract(text)[0] for text in texts[kind])) for kind in SECTIONS}
        new = {}
        for kind, patterns in current.items():
            new[kind] = [known.get(pattern, {"en": pattern, "zh": ""}) for pattern in patterns]
            if not prune:  # kept, so that a changed text's old translation is at hand (check shows it)
                new[kind] += [entry for entry in old[kind] if entry["en"] not in set().union(*current.values())]
        added = sum(1 for entries in new.values() for entry in entries if entry["en"] not in known)
        if not path.exists() and not any(new.values()):
            continue
        write_entries(path, lesson, new)
        print(f"{_shown(path)}: {sum(map(len, new.values()))} entries, {added} new")
    path = OUTPUTS / UNITS
    units = ((yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}).get("units") or {}
    for unit in dict.fromkeys(all_units):
        units.setdefault(unit, "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Chinese of the units the lessons' claims are measured in (see book/zh_outputs.py).\n"
                    + yaml.dump({"units": units}, Dumper=_Dumper, allow_unicode=True, sort_keys=False), encoding="utf-8")


# ---- the claims ledger ------------------------------------------------------------------------------------------

LEDGER_HEADER = """# 论断台账

各课检验的每一条论断，以及本次运行测得的结果。本页在构建时由 `book/zh_edition.py`（借助 `book/zh_outputs.py`）从已执行的 notebook 生成，没有一个数字是手写的：每一行都来自一个计算了效应量及其 95% 置信区间、并用 `assert` 检查了结论的代码单元。结论一栏的含义是：**成立**——整个区间都支持该论断；**无法区分**——区间包含零效应，这次运行分不出高低；**相反**——区间指向另一方向；**部分成立**——课文说明了哪一部分成立。论断“一个模型与另一个一样好”带有运行前定下的容差：整个区间都高于负的容差时为成立，整个区间都低于负的容差时为相反。**可检出**一栏是这项实验能够发现的最小效应：在 95% 的置信水平下有五分之四的把握（80% 的统计功效）发现它，约为 2.8 个标准误，标准误由区间宽度推出。“无法区分”的论断对小于这个值的效应说明不了什么；要判定它，实验需要更多样本或更多种子。

"""


def _cell(text: str) -> str:
    """A text made safe for one cell of a Markdown table."""
    return text.replace("|", "\\|")


def chinese_claims(notebooks: list[Path]) -> str:
    """The Chinese claims ledger: a summary line counted from the verdicts and one row per claim, in Chinese where
    a translation exists (the English text otherwise, so the page always builds)."""
    rows, verdicts, units = [], Counter(), read_units()
    for lesson in notebooks:
        templates = read_templates(lesson)
        for claim in claims_in(lesson):
            verdicts[claim["verdict"]] += 1
            shown = interval_text(claim["effect"], units.get(claim["unit"], claim["unit"]))
            if claim.get("margin") is not None:
                shown += f"（容差 {claim['margin']:g}）"
            cells = [f"[{lesson.stem[:2]}](notebooks/{lesson.stem}.ipynb)",
                     _translated(claim["claim"], templates) or claim["claim"],
                     _translated(claim["measured"], templates) or claim["measured"], shown,
                     detectable_text(claim["effect"], units.get(claim["unit"], claim["unit"])),
                     f"**{verdict_zh(claim['verdict'])}**"]
            rows.append("| " + " | ".join(map(_cell, cells)) + " |")
    counts = "，".join(f"{verdict_zh(verdict)} {count} 条" for verdict, count in verdicts.most_common())
    summary = f"共 {len(rows)} 条论断" + (f"：{counts}。" if counts else "。")
    table = ["| 课 | 论断 | 测量 | 效应 [95% 区间] | 可检出 | 结论 |", "| --- | --- | --- | --- | --- | --- |"]
    return LEDGER_HEADER + summary + "\n\n" + "\n".join(table + rows) + "\n"


def lessons() -> list[Path]:
    """The English lesson notebooks, in reading order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="list claim, summary and result texts with no current Chinese template")
    syncing = commands.add_parser("sync", help="add entries (zh empty) for new claim, summary and result texts")
    syncing.add_argument("--prune", action="store_true", help="drop entries no output uses any more")
    args = parser.parse_args(argv)
    if args.command == "sync":
        sync(lessons(), prune=args.prune)
        return 0
    found = problems(lessons())
    if found:
        print(*found, sep="\n")
    print(f"Chinese results: {len(found)} problems (above)" if found
          else "Chinese results: every claim, summary and result text has a current Chinese template")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
