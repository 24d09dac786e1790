"""The Chinese edition (book/zh_edition.py): every markdown cell translated from the English it has now, and the
committed Chinese notebooks equal to the English ones in everything but their markdown and the results that
book/zh_outputs.py puts in Chinese (claim lines, "What we saw" summaries, result lines, verdicts in tables), cell for
cell.

nbval runs only the English lessons (pyproject.toml ignores notebooks/zh); these tests stand in for the Chinese ones.
"""
import copy
import re
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import zh_edition  # noqa: E402
import zh_outputs  # noqa: E402

LESSONS = zh_edition.lessons()
SEED_TERMS = ["监督式微调", "预训练", "标注数据", "数据清洗", "交叉熵损失", "均方误差", "随机梯度下降", "学习率", "批量大小",
              "训练轮数", "过拟合", "验证集", "准确率", "精确率", "召回率", "F1 分数", "R 方"]
USUAL_TERMS = ["冻结", "分类头", "损失掩码", "提示词", "指令微调", "LoRA"]
SEED_ARTICLE = ["什么是大模型的监督式微调", "汪子熙", "2024-08-07"]


def ids(paths):
    return [p.stem for p in paths]


def without_translated_results(cell, summary: bool):
    """A code cell with the texts book/zh_outputs.py translates left out: the Markdown and plain text of its claim
    lines (their data stays); in a summary cell, the printed text and Markdown; in the others, the result lines of
    printed text and Markdown (each left as a mark, so that the lines around them must match) and the verdicts in
    tables (put in Chinese in both)."""
    cell = copy.deepcopy(cell)
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if zh_outputs.CLAIM_MIME in data or summary:
            output.pop("text", None)
            data.pop("text/markdown", None)
            if zh_outputs.CLAIM_MIME in data:
                data.pop("text/plain", None)
            continue
        if "text" in output:
            output["text"] = results_marked("text", output["text"])
        if "text/markdown" in data:
            data["text/markdown"] = results_marked("text/markdown", data["text/markdown"])
        zh_outputs.translate_table(output)
    return cell


def results_marked(where: str, text: str) -> str:
    """A printed text or Markdown with each result piece (an English one, or a translated one: it has Chinese)
    replaced by a mark."""
    return "".join("<result>\n" if is_result or zh_edition.CJK.search(piece) else piece
                   for piece, is_result in zh_outputs.result_pieces(where, text))


def test_every_markdown_cell_is_translated_from_the_english_it_has_now():
    found = zh_edition.problems()
    assert not found, ("the Chinese edition is missing or behind; see `python book/zh_edition.py check`:\n"
                       + "\n".join(found))


@pytest.mark.parametrize("lesson", LESSONS, ids=ids(LESSONS))
def test_chinese_notebook_has_the_english_code_and_outputs_cell_for_cell(lesson):
    english = nbformat.read(lesson, as_version=4)
    summaries = {cell.id for cell in zh_outputs.summary_cells(english)}
    chinese_path = zh_edition.ZH_NOTEBOOKS / lesson.name
    assert chinese_path.exists(), f"no {chinese_path.relative_to(ROOT)}: run `python book/zh_edition.py build`"
    chinese = nbformat.read(chinese_path, as_version=4)
    assert chinese.metadata == english.metadata
    assert [(c.cell_type, c.id) for c in chinese.cells] == [(c.cell_type, c.id) for c in english.cells]
    for index, (zh, en) in enumerate(zip(chinese.cells, english.cells)):
        if en.cell_type == "markdown":
            assert zh.metadata == en.metadata, f"cell {index}: metadata differs"
        else:
            summary = en.id in summaries
            assert (without_translated_results(zh, summary) == without_translated_results(en, summary)), \
                f"cell {index} ({en.cell_type}) differs from the English one"


@pytest.mark.parametrize("lesson", LESSONS, ids=ids(LESSONS))
def test_chinese_notebook_is_current_with_its_translation(lesson):
    """The committed notebook is what `build` writes now (so an English re-execution is not left behind)."""
    expected, untranslated = zh_edition.chinese_notebook(lesson)
    committed = nbformat.read(zh_edition.ZH_NOTEBOOKS / lesson.name, as_version=4)
    assert not untranslated
    assert committed == expected, f"notebooks/zh/{lesson.name} is stale: run `python book/zh_edition.py build`"


@pytest.mark.parametrize("lesson", LESSONS, ids=ids(LESSONS))
def test_chinese_prose_is_mostly_chinese(lesson):
    """Markdown that has words (not only a heading or a formula) reads in Chinese, not in copied English."""
    notebook, _ = zh_edition.chinese_notebook(lesson)
    prose = "".join(re.sub(r"`[^`]*`|\$[^$]*\$|\([^)]*\.ipynb\)", "", c.source)
                    for c in zh_edition.markdown_cells(notebook))
    cjk, latin = len(zh_edition.CJK.findall(prose)), len(re.findall(r"[A-Za-z]+", prose))
    assert cjk > 2 * latin, f"{cjk} Chinese characters against {latin} English words"


def scratch_lesson(notebook, tmp_path, monkeypatch):
    """Write `notebook` as lesson 42 of a scratch course under tmp_path, and point zh_edition at that course."""
    lesson = tmp_path / "notebooks" / "42_test.ipynb"
    lesson.parent.mkdir()
    nbformat.write(notebook, lesson)
    monkeypatch.setattr(zh_edition, "TRANSLATIONS", tmp_path / "translations")
    monkeypatch.setattr(zh_edition, "ROOT", tmp_path)
    monkeypatch.setattr(zh_edition, "NOTEBOOKS", lesson.parent)
    return lesson


def test_check_fails_on_a_missing_and_on_a_stale_translation(tmp_path, monkeypatch):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# One"),
                                               nbformat.v4.new_code_cell("1 + 1"),
                                               nbformat.v4.new_markdown_cell("Two words.")])
    lesson = scratch_lesson(notebook, tmp_path, monkeypatch)
    assert "no translation file" in zh_edition.problems([lesson])[0]
    zh_edition.sync([lesson])
    assert len(zh_edition.problems([lesson])) == 2  # both cells listed, zh empty
    path = zh_edition.translation_file(lesson)
    entries = zh_edition.read_translations(path)
    for entry, text in zip(entries.values(), ["# 一", "两个词。"]):
        entry["zh"] = text
    zh_edition.write_translations(path, lesson, entries)
    assert zh_edition.problems([lesson]) == []
    notebook.cells[2].source = "Three words now."
    nbformat.write(notebook, lesson)
    (stale,) = zh_edition.problems([lesson])
    assert "changed after it was translated" in stale and "+Three words now." in stale
    chinese, untranslated = zh_edition.chinese_notebook(lesson)
    assert untranslated == [notebook.cells[2].id] and chinese.cells[2].source == "Three words now."
    zh_edition.accept("42", [notebook.cells[2].id])
    assert zh_edition.problems([lesson]) == []


def test_the_chinese_book_has_every_page_of_the_english_one():
    english = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text(encoding="utf-8"))
    toc = zh_edition.chinese_toc(english)
    for entry in [toc["root"]] + [e["file"] for e in toc["chapters"]]:
        if entry.startswith("notebooks/"):
            assert (zh_edition.ZH_NOTEBOOKS / (entry.split("/", 1)[1] + ".ipynb")).exists(), entry
        elif entry != "claims":  # generated at build time
            assert (zh_edition.ZH_BOOK / f"{entry}.md").exists(), entry
    assert (ROOT / "book" / "zh" / "notebooks").resolve() == zh_edition.ZH_NOTEBOOKS.resolve()


@pytest.mark.parametrize("lesson", LESSONS, ids=ids(LESSONS))
def test_every_lesson_is_in_the_chinese_intro_and_readme(lesson):
    intro = (ROOT / "book" / "zh" / "intro.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert f"{{download}}`{lesson.name} <notebooks/{lesson.name}>`" in intro, "add a row to book/zh/intro.md"
    assert f"(notebooks/zh/{lesson.name})" in readme, "add a row to README.zh-CN.md"


def test_glossary_and_references_use_the_seed_terms_and_cite_the_seed_article():
    table = (ROOT / "book" / "zh" / "glossary_table.md").read_text(encoding="utf-8")
    missing = [term for term in SEED_TERMS + USUAL_TERMS if term not in table]
    assert not missing, f"terms missing from the glossary: {missing}"
    assert "{include} zh/glossary_table.md" in (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    for references in (ROOT / "book" / "references.md", ROOT / "book" / "zh" / "references.md"):
        text = references.read_text(encoding="utf-8")
        assert all(part in text for part in SEED_ARTICLE), f"{references} does not cite the seed article"
    assert "华为云社区" in (ROOT / "book" / "zh" / "references.md").read_text(encoding="utf-8")


def test_the_translations_use_the_seed_terms():
    prose = "".join(entry["zh"] for lesson in LESSONS
                    for entry in zh_edition.read_translations(zh_edition.translation_file(lesson)).values())
    missing = [term for term in SEED_TERMS + USUAL_TERMS if term not in prose]
    assert not missing, f"terms never used in the lessons: {missing}"


def test_chinese_claims_page_keeps_every_row_in_chinese():
    sys.path.insert(0, str(ROOT / "book"))
    from claims_ledger import ledger_markdown

    english = [line for line in ledger_markdown(LESSONS).splitlines() if line.startswith("| [")]
    chinese = zh_edition.chinese_claims(LESSONS)
    rows = [line for line in chinese.splitlines() if line.startswith("| [")]
    assert rows and len(rows) == len(english)
    assert [row.split(" | ")[0] for row in rows] == [row.split(" | ")[0] for row in english]  # same lessons, same order
    assert "| 课 | 论断 | 测量 | 效应 [95% 区间] | 可检出 | 结论 |" in chinese and f"共 {len(rows)} 条论断：" in chinese
    for row in rows:
        verdict = row.rstrip(" |").rsplit("| ", 1)[1]
        assert verdict.strip("*") in zh_outputs.VERDICTS.values(), row


def test_a_translation_must_be_mostly_chinese_apart_from_code_math_links_and_names():
    english = "We fine-tune **SmolLM2-135M** with `train()` on the $R^2$ [reviews](https://example.com/data)."
    good = "我们在[评论](https://example.com/data)上用 `train()` 微调 **SmolLM2-135M**，并计算 $R^2$。"
    assert zh_edition.latin_share(english, good)[0] == 0
    assert zh_edition.cell_problems("42_test", "c1", "", english, good) == []
    copied = "我们 fine-tune **SmolLM2-135M** with `train()` on the reviews。"
    share, words = zh_edition.latin_share(english, copied)
    assert share > zh_edition.MAX_LATIN_SHARE and words == ["fine-tune", "with", "on", "the", "reviews"]
    (problem,) = zh_edition.cell_problems("42_test", "c1", "", english, copied)
    assert "mostly not Chinese" in problem and "fine-tune with on the reviews" in problem


@pytest.mark.parametrize("english, chinese", [
    ("All 134.5 M parameters train on a 2-core CPU.", "全部 1.345 亿个参数都在双核 CPU 上训练。"),
    ("Head only trains 1,155 numbers out of 22.7 million.", "2,270 万个参数中只训练 1,155 个。"),
    ("## 2. Two epochs over 384 reviews, seed-0 runs", "## 2. 在 384 条评论上训练 2 轮，种子 0 的运行"),
    ("A 95% interval for SmolLM2-135M and MiniLM-L6, lesson 02, $x^{10}$, `lr=1e-4`.",
     "SmolLM2-135M 和 MiniLM-L6 的 95% 区间，见第 2 课，$x^{10}$，`lr=1e-4`。"),
    ("**Step (1)**: once, at 0.5", "**第（1）步**：一次，在 0.50"),
])
def test_the_numbers_of_a_translation_match_after_unit_conversion(english, chinese):
    assert zh_edition.number_differences(english, chinese) == (Counter(), Counter())


@pytest.mark.parametrize("english, chinese, missing, extra", [
    ("On the same 36 test items", "在同样的 48 个测试样本上", ["36"], ["48"]),
    ("All 134.5 M parameters", "全部 134.5 个参数", ["134500000"], ["134.5"]),
    ("5 seeds each", "每个 3 个种子，共 5 次", [], ["3"]),
    ("the top layer", "顶部 1 层", [], ["1"]),
])
def test_check_fails_on_numbers_that_differ_from_the_english(english, chinese, missing, extra):
    found = zh_edition.number_differences(english, chinese)
    assert found == (Counter(Decimal(n) for n in missing), Counter(Decimal(n) for n in extra))
    (problem,) = zh_edition.cell_problems("42_test", "c1", "", english, chinese)
    assert "numbers differ" in problem


def test_accept_refuses_an_unchanged_translation_of_changed_english_unless_given_a_reason(tmp_path, monkeypatch):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Train 5 epochs."),
                                               nbformat.v4.new_markdown_cell("Two words.")])
    lesson = scratch_lesson(notebook, tmp_path, monkeypatch)
    zh_edition.sync([lesson])
    path = zh_edition.translation_file(lesson)
    entries = zh_edition.read_translations(path)
    first, second = (cell.id for cell in notebook.cells)
    entries[first]["zh"], entries[second]["zh"] = "训练 5 轮。", "两个词。"
    zh_edition.write_translations(path, lesson, entries)
    zh_edition.accept("42", [first, second])
    entries = zh_edition.read_translations(path)
    assert entries[first]["zh_hash"] == zh_edition.zh_hash("训练 5 轮。")
    assert "accepted_unchanged" not in entries[first]
    notebook.cells[0].source, notebook.cells[1].source = "Train 8 epochs.", "Two words!"
    nbformat.write(notebook, lesson)
    with pytest.raises(SystemExit, match="changed but not its Chinese"):
        zh_edition.accept("42", [first])
    assert zh_edition.read_translations(path)[first]["en"] == "Train 5 epochs."  # nothing recorded
    zh_edition.accept("42", [second], reason="only the punctuation changed")
    assert zh_edition.read_translations(path)[second]["accepted_unchanged"] == "only the punctuation changed"
    entries = zh_edition.read_translations(path)
    entries[first]["zh"] = "训练 8 轮。"
    zh_edition.write_translations(path, lesson, entries)
    zh_edition.accept("42", [first])
    assert zh_edition.problems([lesson]) == []
    # a translated but stale cell whose Chinese was not updated is caught by the number check meanwhile
    assert zh_edition.cell_problems("42_test", first, "", "Train 8 epochs.", "训练 5 轮。")


def test_check_fails_when_an_english_page_changed_after_its_chinese_page(tmp_path, monkeypatch):
    monkeypatch.setattr(zh_edition, "BOOK", tmp_path)
    monkeypatch.setattr(zh_edition, "TRANSLATIONS", tmp_path / "zh" / "translations")
    (tmp_path / "zh" / "translations").mkdir(parents=True)
    for name in zh_edition.HAND_WRITTEN:
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\nOne line.\n", encoding="utf-8")
    assert len(zh_edition.page_problems()) == len(zh_edition.HAND_WRITTEN)  # nothing recorded yet
    zh_edition.accept("page", sorted(zh_edition.HAND_WRITTEN))
    assert zh_edition.page_problems() == []
    (tmp_path / "intro.md").write_text("# intro\n\nOne line, changed.\n", encoding="utf-8")
    (problem,) = zh_edition.page_problems()
    assert problem.startswith("page intro: book/intro.md changed") and "+One line, changed." in problem
    zh_edition.accept("page", ["intro"])
    assert zh_edition.page_problems() == []
    with pytest.raises(SystemExit, match="not a hand-written page"):
        zh_edition.accept("page", ["claims"])


def test_the_hand_written_pages_follow_their_english_pages():
    found = zh_edition.page_problems()
    assert not found, "\n".join(found)
