"""The READMEs state figures a script can check: the lessons and how long each ran, the data's row counts, every
flag of `sft-course train`, the links, the layout. These tests hold them to the repository.

They read files only (no model, no torch), so they take well under a second. The command's options come from
the source of sft_helpers/cli.py (its `add_argument` calls), because importing the module loads torch and
transformers, which takes longer on the course's 2-core CPU than this whole file is allowed.
"""
import ast
import csv
import datetime
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_ZH = ROOT / "README.zh-CN.md"
READMES = [README, README_ZH]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# How the lessons are counted in the first paragraph: "12 Jupyter notebooks (00–11" / "12 个 Jupyter notebook（00–11".
COUNT_STATEMENT = {
    README: re.compile(r"(\d+) Jupyter notebooks \((\d\d)–(\d\d)"),
    README_ZH: re.compile(r"(\d+) 个 Jupyter notebook（(\d\d)–(\d\d)"),
}
# A lesson's row in the lesson table: its number and its link (the Chinese README links the Chinese notebooks).
LESSON_ROW = {
    README: re.compile(r"^\| (\d\d) \| \[`[^`]+`\]\(notebooks/([^)/]+\.ipynb)\) \|.*\| ([\d.]+) \|$", re.MULTILINE),
    README_ZH: re.compile(r"^\| (\d\d) \| \[`[^`]+`\]\(notebooks/zh/([^)/]+\.ipynb)\) \|.*\| ([\d.]+) \|$", re.MULTILINE),
}
# The minutes in the table are one execution's; a re-execution may take a little longer or shorter.
MINUTES_TOLERANCE = (0.3, 0.2)  # absolute minutes, or this share of the measured time, whichever is larger
# Figures stated in the English prose, each the row count of one file.
PROSE_FIGURES = {
    r"([\d,]+) of them short": "reviews/short.csv",
    r"1 epoch on ([\d,]+) pairs": "translation/train.csv",
    r"now ([\d,]+), so an epoch": "translation/translation.csv",
    r"\(([\d,]+) reviews, 3 classes": "reviews/reviews.csv",
    r"news 0\.\d+\*\* accuracy \(([\d,]+) items\)": "news/test.csv",
    r"\(([\d,]+) reviews, three classes\)": "reviews/test.csv",
    r"BLEU [\d.]+ \(([\d,]+) sentences\)": "translation/test.csv",
}
# Flags of other programs that the README uses (pip, pytest/nbval, torchrun, accelerate).
OTHER_PROGRAMS_FLAGS = {
    "--index-url", "--no-deps", "--nbval", "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with",
    "--to", "--execute", "--inplace", "--standalone", "--nproc_per_node", "--multi_gpu", "--num_processes", "--cpu",
}
ARGPARSE_FLAGS = {"--help"}  # every sub-command has it without an add_argument call
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9_-]*")
COMMAND = re.compile(r"(?:sft-course|sft_helpers\.cli) (train|predict|evaluate)\b(.*)")


def text(path):
    return path.read_text(encoding="utf-8")


def section(markdown, heading):
    """The lines under `heading` (a whole heading line) up to the next heading of any level."""
    start = markdown.index(heading + "\n") + len(heading) + 1
    following = re.search(r"^#{1,6} ", markdown[start:], re.MULTILINE)
    return markdown[start:start + following.start()] if following else markdown[start:]


def code_blocks(markdown):
    return re.findall(r"^```[^\n]*\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL)


def rows(path):
    """Records of a CSV file, header not counted (a quoted field may span lines)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def number(figure):
    return int(figure.replace(",", ""))


def command_flags():
    """Sub-command -> its option strings, read from the `add_argument` calls in sft_helpers/cli.py."""
    tree = ast.parse(text(ROOT / "sft_helpers" / "cli.py"))
    flags = {}
    for function in (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)):
        owner = {}  # variable -> the sub-command its arguments belong to
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1:
                call, target = node.value, node.targets[0]
                if not (isinstance(target, ast.Name) and isinstance(call.func, ast.Attribute)):
                    continue
                if call.func.attr == "add_parser" and call.args and isinstance(call.args[0], ast.Constant):
                    owner[target.id] = call.args[0].value
                elif call.func.attr == "add_argument_group" and isinstance(call.func.value, ast.Name):
                    owner[target.id] = owner.get(call.func.value.id)
        for node in ast.walk(function):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"
                    and isinstance(node.func.value, ast.Name) and owner.get(node.func.value.id)):
                names = [a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("--")]
                flags.setdefault(owner[node.func.value.id], set()).update(names)
    return flags


FLAGS = command_flags()


def test_the_cli_source_yields_the_flags_the_tests_rely_on():
    assert {"train", "evaluate"} <= set(FLAGS), FLAGS
    assert {"--out", "--data", "--epochs", "--general-share"} <= FLAGS["train"]
    assert {"--data", "--max-examples"} <= FLAGS["evaluate"]


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_the_lesson_count_is_the_number_of_notebooks(readme):
    statements = COUNT_STATEMENT[readme].findall(text(readme))
    assert statements, f"{readme.name} no longer says how many notebooks there are ({COUNT_STATEMENT[readme].pattern})"
    for count, first, last in statements:
        assert int(count) == len(LESSONS), f"{readme.name} says {count} notebooks; notebooks/ holds {len(LESSONS)}"
        assert (first, last) == (LESSONS[0].name[:2], LESSONS[-1].name[:2]), f"{readme.name}: {first}–{last}"


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_the_lesson_table_lists_every_notebook_once_with_its_number(readme):
    table = LESSON_ROW[readme].findall(text(readme))
    listed = [name for _, name, _ in table]
    assert sorted(listed) == [p.name for p in LESSONS], f"{readme.name}'s lesson table lists {listed}"
    for lesson_number, name, _ in table:
        assert name.startswith(lesson_number + "_"), f"{readme.name}: row {lesson_number} links {name}"
        assert (readme.parent / ("notebooks/zh" if readme is README_ZH else "notebooks") / name).exists(), name


def measured_minutes(path):
    """First cell's start to last cell's end, from the execution timestamps stored in the notebook."""
    cells = [c for c in json.loads(text(path))["cells"] if c["cell_type"] == "code"]
    timing = [c.get("metadata", {}).get("execution", {}) for c in cells]
    start, end = timing[0].get("iopub.execute_input"), timing[-1].get("shell.execute_reply")
    assert start and end, f"{path.name} stores no execution timestamps: execute it with `make course`"
    seconds = datetime.datetime.fromisoformat(end) - datetime.datetime.fromisoformat(start)
    return seconds.total_seconds() / 60


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_each_lessons_minutes_are_those_its_notebook_recorded(readme):
    for _, name, stated in LESSON_ROW[readme].findall(text(readme)):
        measured = measured_minutes(ROOT / "notebooks" / name)
        allowed = max(MINUTES_TOLERANCE[0], MINUTES_TOLERANCE[1] * measured)
        assert abs(float(stated) - measured) <= allowed, (
            f"{readme.name} says {name} takes {stated} minutes; its stored execution took {measured:.1f}")
    total = re.search(r"(?:Together|合计) ([\d.]+) (?:minutes|分钟)", text(readme))
    assert total, f"{readme.name} no longer gives the lessons' total time"
    measured_total = sum(measured_minutes(p) for p in LESSONS)
    assert abs(float(total.group(1)) - measured_total) <= max(1.0, 0.1 * measured_total), measured_total


DATA = ROOT / "data_samples"
SPLIT_FILES = ("train.csv", "validation.csv", "test.csv")
DATA_ROW = re.compile(r"^\| \[`(\w+)/`\]\(data_samples/\1/README\.md\) \|.*\| ([^|]+) \|$", re.MULTILINE)
SUM = re.compile(r"((?:`[\w.]+\.csv` [\d,]+ \+ )+`[\w.]+\.csv` [\d,]+) = ([\d,]+)")


def data_table(readme):
    """folder -> the 'rows' cell of its row in the data table."""
    found = DATA_ROW.findall(text(readme))
    assert found, f"{readme.name} has no data table"
    return dict(found)


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_the_data_tables_row_counts_are_the_files(readme):
    table = data_table(readme)
    assert set(table) == {p.name for p in DATA.iterdir() if (p / "README.md").exists()}, "a data set is missing"
    for folder, cell in table.items():
        stated = dict(re.findall(r"`([\w.]+\.csv)` ([\d,]+)", cell))
        for name, figure in stated.items():
            path = DATA / folder / name
            assert path.exists(), f"{readme.name} counts {folder}/{name}, which does not exist"
            assert number(figure) == rows(path), f"{readme.name}: {folder}/{name} has {rows(path)} rows, not {figure}"
        splits = [n for n in SPLIT_FILES + ("shifted.csv",) if (DATA / folder / n).exists()]
        expected = set(splits or [p.name for p in (DATA / folder).glob("*.csv")])
        assert expected <= set(stated), f"{readme.name}: the {folder}/ row does not count {expected - set(stated)}"
        for terms, total in SUM.findall(cell):
            assert sum(number(n) for n in re.findall(r"` ([\d,]+)", terms)) == number(total), f"{terms} = {total}"
        if set(SPLIT_FILES) <= set(splits):
            split_total = sum(number(stated[n]) for n in SPLIT_FILES)
            assert f"{split_total:,}" in cell, f"{readme.name}: the {folder}/ splits add up to {split_total:,}"


@pytest.mark.parametrize("pattern, file", PROSE_FIGURES.items(), ids=list(PROSE_FIGURES.values()))
def test_figures_in_the_prose_are_the_row_counts_of_their_files(pattern, file):
    match = re.search(pattern, text(README))
    assert match, f"README.md no longer states {pattern!r}: update PROSE_FIGURES in tests/test_readme.py"
    assert number(match.group(1)) == rows(DATA / file), f"{pattern}: {file} has {rows(DATA / file)} rows"


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_the_settings_table_lists_exactly_the_flags_of_sft_course_train(readme):
    heading = next(line for line in text(readme).splitlines() if line.startswith("### ") and "`sft-course train`" in line)
    table = [line for line in section(text(readme), heading).splitlines() if line.startswith("| `--")]
    listed = {FLAG.match(line[3:]).group(0) for line in table}
    assert listed == FLAGS["train"], (f"{readme.name} lists {sorted(listed - FLAGS['train'])} that `sft-course train` lacks "
                                      f"and misses {sorted(FLAGS['train'] - listed)}")


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_every_flag_in_the_readme_is_known(readme):
    markdown = text(readme)
    for block in code_blocks(markdown):
        for line in block.splitlines():
            command = COMMAND.search(line.split(" #")[0])
            if command:
                unknown = set(FLAG.findall(command.group(2))) - FLAGS.get(command.group(1), set()) - ARGPARSE_FLAGS
                assert not unknown, f"{readme.name}: `sft-course {command.group(1)}` has no {sorted(unknown)}: {line}"
    known = set().union(*FLAGS.values()) | ARGPARSE_FLAGS | OTHER_PROGRAMS_FLAGS
    unknown = set(FLAG.findall(markdown)) - known
    assert not unknown, f"{readme.name} mentions {sorted(unknown)}, which neither sft-course nor OTHER_PROGRAMS_FLAGS knows"


def slug(heading):
    """The anchor GitHub gives a heading."""
    return re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", heading.strip().lower()))


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_links_lead_to_files_and_headings_that_exist(readme):
    markdown = re.sub(r"^```.*?^```", "", text(readme), flags=re.MULTILINE | re.DOTALL)
    anchors = {slug(h) for h in re.findall(r"^#{1,6} (.+)$", markdown, re.MULTILINE)}
    for target in re.findall(r"\]\(([^)\s]+)\)", markdown):
        if target.startswith(("http://", "https://")):
            continue
        if target.startswith("#"):
            assert target[1:] in anchors, f"{readme.name} links {target}; its headings give {sorted(anchors)}"
        else:
            assert (readme.parent / target.split("#")[0]).exists(), f"{readme.name} links {target}, which does not exist"


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.name)
def test_the_layout_names_every_top_level_entry(readme):
    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    heading = next(line for line in text(readme).splitlines() if line in ("## Layout", "## 目录结构"))
    layout = code_blocks(section(text(readme), heading))[0]
    entries = {path.split("/")[0] + ("/" if "/" in path else "") for path in tracked.splitlines()}
    missing = sorted(e for e in entries if e not in (".gitignore",) and not re.search(rf"(?<![\w.]){re.escape(e)}", layout))
    assert not missing, f"{readme.name}'s layout does not mention {missing}"
