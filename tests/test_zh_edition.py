"""The Chinese edition (book/zh_edition.py): every markdown cell translated from the English it has now, and the
committed Chinese notebooks equal to the English ones in everything but their markdown, cell for cell.

nbval runs only the English lessons (pyproject.toml ignores notebooks/zh); these tests stand in for the Chinese ones.
"""
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import zh_edition  # noqa: E402

LESSONS = zh_edition.lessons()
SEED_TERMS = ["监督式微调", "预训练", "标注数据", "数据清洗", "交叉熵损失", "均方误差", "随机梯度下降", "学习率", "批量大小",
              "训练轮数", "过拟合", "验证集", "准确率", "精确率", "召回率", "F1 分数", "R 方"]
USUAL_TERMS = ["冻结", "分类头", "损失掩码", "提示词", "指令微调", "LoRA"]
SEED_ARTICLE = ["什么是大模型的监督式微调", "汪子熙", "2024-08-07"]


def ids(paths):
    return [p.stem for p in paths]


def test_every_markdown_cell_is_translated_from_the_english_it_has_now():
    found = zh_edition.problems()
    assert not found, ("the Chinese edition is missing or behind; see `python book/zh_edition.py check`:\n"
                       + "\n".join(found))


@pytest.mark.parametrize("lesson", LESSONS, ids=ids(LESSONS))
def test_chinese_notebook_has_the_english_code_and_outputs_cell_for_cell(lesson):
    english = nbformat.read(lesson, as_version=4)
    chinese_path = zh_edition.ZH_NOTEBOOKS / lesson.name
    assert chinese_path.exists(), f"no {chinese_path.relative_to(ROOT)}: run `python book/zh_edition.py build`"
    chinese = nbformat.read(chinese_path, as_version=4)
    assert chinese.metadata == english.metadata
    assert [(c.cell_type, c.id) for c in chinese.cells] == [(c.cell_type, c.id) for c in english.cells]
    for index, (zh, en) in enumerate(zip(chinese.cells, english.cells)):
        if en.cell_type == "markdown":
            assert zh.metadata == en.metadata, f"cell {index}: metadata differs"
        else:
            assert zh == en, f"cell {index} ({en.cell_type}) differs from the English one"


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


def test_check_fails_on_a_missing_and_on_a_stale_translation(tmp_path, monkeypatch):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# One"),
                                               nbformat.v4.new_code_cell("1 + 1"),
                                               nbformat.v4.new_markdown_cell("Two words.")])
    lesson = tmp_path / "notebooks" / "42_test.ipynb"
    lesson.parent.mkdir()
    nbformat.write(notebook, lesson)
    monkeypatch.setattr(zh_edition, "TRANSLATIONS", tmp_path / "translations")
    monkeypatch.setattr(zh_edition, "ROOT", tmp_path)
    monkeypatch.setattr(zh_edition, "NOTEBOOKS", lesson.parent)
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


def test_chinese_claims_page_keeps_every_row():
    sys.path.insert(0, str(ROOT / "book"))
    from claims_ledger import ledger_markdown

    english = ledger_markdown(LESSONS)
    chinese = zh_edition.chinese_claims(LESSONS)
    rows = [line for line in english.splitlines() if line.startswith("| [")]
    assert rows and all(row in chinese for row in rows)
    assert "| 课 | 论断 |" in chinese
