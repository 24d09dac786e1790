"""The Chinese edition's results (book/zh_outputs.py): claim lines, "What we saw" summaries, result lines, verdicts in
tables and the claims ledger in Chinese, with the numbers of the run filled in from the stored outputs, never typed."""
import json
import sys
from dataclasses import asdict
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from sft_helpers import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import zh_edition  # noqa: E402
import zh_outputs  # noqa: E402

SUMMARY = "- Test accuracy 97 [93.9, 99.2] %, against 25% for the majority class.\n- Fine-tuned − TF-IDF: 3.79 [-0.758, 8.33] points → not distinguishable here.\n"
SUMMARY_ZH = {"Test accuracy {0} [{1}, {2}] %, against {3}% for the majority class.":
              "测试集准确率 {0} [{1}, {2}] %，多数类基线为 {3}%。",
              "Fine-tuned − TF-IDF: {0} [{1}, {2}] points → {3}.": "微调模型 − TF-IDF：{0} [{1}, {2}] 个百分点 → {3}。"}
CLAIM_ZH = {"pretrained beats scratch": "预训练胜过从零训练",
            "validation accuracy, {0} reviews, {1} seeds": "验证集准确率，{0} 条评论，{1} 个随机种子"}
RESULTS = "epoch 2: 0.4\nmean pooling − [CLS]: 15.3 [12, 18.7] points over 5 seeds → held\n"
MEASURED = "**Measured:** after 3 epochs, SGD: held;\nAdamW: not distinguishable here."
RESULTS_ZH = {"mean pooling − [CLS]: {0} [{1}, {2}] points over {3} seeds → {4}":
              "平均池化 − [CLS]：{0} [{1}, {2}] 个百分点（{3} 个随机种子）→ {4}",
              "**Measured:** after {0} epochs, SGD: {1}; AdamW: {2}.": "**测量结果：** 训练 {0} 轮后，SGD：{1}；AdamW：{2}。"}
TABLE = pd.DataFrame({"gap, points": ["2.35 [1.2, 3.5]", "0.86 [-0.72, 2.44]", "-4.64 [-7.28, -2.01]"],
                      "verdict": ["held", "not distinguishable here", "reversed"]}, index=["SGD", "AdamW", "held"])


def claim_output(claim: stats.Claim):
    """A claim output as `record_claim` stores it."""
    return nbformat.v4.new_output("display_data", data={
        "text/markdown": claim.sentence(), "text/plain": claim.sentence(),
        stats.CLAIM_MIME: json.loads(json.dumps(asdict(claim)))})


def write_lesson(path: Path, summary: str = SUMMARY, measured: str = "validation accuracy, 218 reviews, 5 seeds",
                 effect=stats.Interval(28.4, 20.2, 36.7), results: str = RESULTS) -> Path:
    claim = stats.Claim("42", "pretrained beats scratch", measured, effect, "points", stats.HELD)
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 42 · A lesson"),
        nbformat.v4.new_code_cell("record_claim(...)", outputs=[claim_output(claim)]),
        nbformat.v4.new_code_cell("print('a table')", outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                                                        text="epoch 1: 0.5\n")]),
        nbformat.v4.new_markdown_cell("Last words.\n\n## What we saw"),
        nbformat.v4.new_code_cell("print(...)", outputs=[nbformat.v4.new_output("stream", name="stdout", text=summary)]),
        nbformat.v4.new_code_cell("print(...); Markdown(...); table", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text=results),
            nbformat.v4.new_output("display_data", data={"text/markdown": MEASURED, "text/plain": "<Markdown>"}),
            nbformat.v4.new_output("execute_result", execution_count=1,
                                   data={"text/html": TABLE._repr_html_(), "text/plain": repr(TABLE)})]),
    ])
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def lesson(tmp_path, monkeypatch):
    """A lesson with one claim and a summary, and its translation (through `sync`, then zh written)."""
    monkeypatch.setattr(zh_outputs, "OUTPUTS", tmp_path / "outputs")
    path = write_lesson(tmp_path / "42_test.ipynb")
    zh_outputs.sync([path])
    entries = zh_outputs.read_entries(zh_outputs.outputs_file(path))
    for entry in entries["claims"] + entries["summary"] + entries["results"]:
        entry["zh"] = {**CLAIM_ZH, **SUMMARY_ZH, **RESULTS_ZH}[entry["en"]]
    zh_outputs.write_entries(zh_outputs.outputs_file(path), path, entries)
    (tmp_path / "outputs" / "units.yml").write_text("units:\n  points: 个百分点\n", encoding="utf-8")
    return path


def translated(path: Path):
    notebook = nbformat.read(path, as_version=4)
    left = zh_outputs.translate_outputs(notebook, path)
    return notebook, left


def test_numbers_become_placeholders_names_and_words_do_not():
    pattern, values = zh_outputs.abstract(
        "SmolLM2-135M-Instruct: macro-F1 0.32, $R^2$ = -0.0139 [-0.0529, +0.0267], lr 1e-5, 10,000-fold, 61.1%, "
        "LoRA r=8 (q_proj), epochs 19–23 (held); held-out phrasings: not distinguishable here.")
    assert pattern == ("SmolLM2-135M-Instruct: macro-F1 {0}, $R^2$ = {1} [{2}, {3}], lr {4}, {5}-fold, {6}%, "
                       "LoRA r=8 (q_proj), epochs {7}–{8} ({9}); held-out phrasings: {10}.")
    assert values == ["0.32", "-0.0139", "-0.0529", "+0.0267", "1e-5", "10,000", "61.1", "19", "23", "held",
                      "not distinguishable here"]


def test_verdicts_in_chinese():
    assert zh_outputs.VERDICTS == {stats.HELD: "成立", stats.NOT_DISTINGUISHABLE: "无法区分", stats.REVERSED: "相反",
                                   "partly": "部分成立"}
    assert zh_outputs.fill("{0} [{1}, {2}]（{3}）", ["2.5", "-7.5", "12.5", "reversed"]) == "2.5 [-7.5, 12.5]（相反）"
    claim = asdict(stats.Claim("10", "as well as", "accuracy, {0} items", stats.Interval(-2.0, -6.0, 2.0), "points",
                               stats.NOT_DISTINGUISHABLE, margin=10.0))
    claim["measured"] = "accuracy, 24 items"
    sentence = zh_outputs.claim_sentence(claim, {"as well as": "一样好", "accuracy, {0} items": "准确率，{0} 个样本"},
                                         {"points": "个百分点"})
    assert sentence == "**论断 →** 一样好：准确率，24 个样本，-2 [-6, 2] 个百分点（容差 10 个百分点）→ **无法区分**。"


def test_build_puts_claims_and_summary_in_chinese_with_the_runs_numbers(lesson):
    assert zh_outputs.problems([lesson]) == []
    notebook, left = translated(lesson)
    assert left == 0
    claim = notebook.cells[1].outputs[0]
    assert claim.data["text/markdown"] == claim.data["text/plain"] == (
        "**论断 →** 预训练胜过从零训练：验证集准确率，218 条评论，5 个随机种子，28.4 [20.2, 36.7] 个百分点 → **成立**。")
    assert claim.data[stats.CLAIM_MIME]["claim"] == "pretrained beats scratch"  # the data stays as recorded
    assert notebook.cells[2].outputs[0].text == "epoch 1: 0.5\n"  # not a summary: unchanged
    assert notebook.cells[4].outputs[0].text == ("- 测试集准确率 97 [93.9, 99.2] %，多数类基线为 25%。\n"
                                                 "- 微调模型 − TF-IDF：3.79 [-0.758, 8.33] 个百分点 → 无法区分。\n")


def test_result_lines_are_in_chinese_with_the_runs_numbers(lesson):
    assert [e["en"] for e in zh_outputs.read_entries(zh_outputs.outputs_file(lesson))["results"]] == list(RESULTS_ZH)
    notebook, left = translated(lesson)
    assert left == 0
    printed, measured, _ = notebook.cells[5].outputs
    assert printed.text == "epoch 2: 0.4\n平均池化 − [CLS]：15.3 [12, 18.7] 个百分点（5 个随机种子）→ 成立\n"
    assert measured.data["text/markdown"] == "**测量结果：** 训练 3 轮后，SGD：成立；AdamW：无法区分。"  # lines joined
    write_lesson(lesson, results=RESULTS.replace("15.3 [12, 18.7]", "-2.5 [-6, 1.25]").replace("held", "reversed"))
    notebook, left = translated(lesson)
    assert left == 0
    assert notebook.cells[5].outputs[0].text.endswith("：-2.5 [-6, 1.25] 个百分点（5 个随机种子）→ 相反\n")


def test_verdicts_that_fill_table_cells_are_in_chinese_numbers_unchanged(lesson):
    english = nbformat.read(lesson, as_version=4).cells[5].outputs[2].data
    table = translated(lesson)[0].cells[5].outputs[2].data
    assert "<td>成立</td>" in table["text/html"] and "<td>无法区分</td>" in table["text/html"]
    assert "<td>相反</td>" in table["text/html"] and ">held</th>" in table["text/html"]  # an index label stays
    assert table["text/html"].replace("成立", "held").replace("无法区分", "not distinguishable here").replace(
        "相反", "reversed") == english["text/html"]
    plain = table["text/plain"].splitlines()
    assert [line.split()[0] for line in plain[1:]] == ["SGD", "AdamW", "held"]  # the index label "held" stays
    assert [line.split()[-1] for line in plain[1:]] == ["成立", "无法区分", "相反"]
    back = " ".join(table["text/plain"].split()).replace("成立", "held").replace("无法区分", "not distinguishable here")
    assert back.replace("相反", "reversed") == " ".join(english["text/plain"].split())  # numbers untouched
    # right-aligned as before: every line as wide as the English one, a Chinese character two columns
    assert list(map(zh_outputs._width, plain)) == list(map(zh_outputs._width, english["text/plain"].splitlines()))


def test_a_result_line_without_template_is_caught_and_stays_english(lesson):
    new = "mean pooling − [CLS]: 15.3 [12, 18.7] points over 5 seeds → held\nmax pooling: no gap, 0.3 [-1, 1.6] (not distinguishable here)\n"
    write_lesson(lesson, results=new)
    (found,) = zh_outputs.problems([lesson])
    assert found.startswith("42_test: no Chinese for this result text") and "max pooling: no gap, 0.3" in found
    notebook, left = translated(lesson)
    assert left == 1
    assert notebook.cells[5].outputs[0].text == ("平均池化 − [CLS]：15.3 [12, 18.7] 个百分点（5 个随机种子）→ 成立\n"
                                                 "max pooling: no gap, 0.3 [-1, 1.6] (not distinguishable here)\n")
    zh_outputs.sync([lesson])
    entries = zh_outputs.read_entries(zh_outputs.outputs_file(lesson))["results"]
    assert {"en": "max pooling: no gap, {0} [{1}, {2}] ({3})", "zh": ""} in entries


def test_a_number_change_keeps_the_translation_and_shows_the_new_numbers(lesson):
    write_lesson(lesson, summary=SUMMARY.replace("97 [93.9", "88.5 [80.1").replace("not distinguishable here", "held"),
                 measured="validation accuracy, 300 reviews, 8 seeds", effect=stats.Interval(-3.0, -5.5, -1.25))
    assert zh_outputs.problems([lesson]) == []
    notebook, left = translated(lesson)
    assert left == 0
    assert "验证集准确率，300 条评论，8 个随机种子，-3 [-5.5, -1.25] 个百分点" in notebook.cells[1].outputs[0].data["text/markdown"]
    assert notebook.cells[4].outputs[0].text.startswith("- 测试集准确率 88.5 [80.1, 99.2] %")
    assert "个百分点 → 成立。" in notebook.cells[4].outputs[0].text


def test_a_wording_change_makes_the_translation_stale(lesson):
    write_lesson(lesson, summary=SUMMARY.replace("against", "compared with"),
                 measured="validation accuracy, 218 reviews, 5 seeds each")
    found = zh_outputs.problems([lesson])
    assert len(found) == 2 and all(problem.startswith("42_test: no Chinese for this") for problem in found)
    assert "5 seeds each" in found[0] and "the English changed after it was translated" in found[0]
    assert "compared with 25% for the majority class" in found[1]
    notebook, left = translated(lesson)
    assert left == 2
    assert notebook.cells[1].outputs[0].data["text/markdown"].startswith("**Claim →**")  # the whole line stays English
    assert notebook.cells[4].outputs[0].text.startswith("- Test accuracy 97 [93.9, 99.2] %, compared with")
    assert "微调模型 − TF-IDF：3.79" in notebook.cells[4].outputs[0].text  # the unchanged item is still translated
    zh_outputs.sync([lesson], prune=True)
    entries = zh_outputs.read_entries(zh_outputs.outputs_file(lesson))
    assert [e["zh"] for e in entries["claims"]] == ["预训练胜过从零训练", ""]


def test_placeholders_that_differ_from_the_pattern_are_caught(lesson):
    path = zh_outputs.outputs_file(lesson)
    entries = zh_outputs.read_entries(path)
    entries["summary"][0]["zh"] = "测试集准确率 {0} [{1}, {2}] %。"  # {3} dropped
    entries["summary"][1]["zh"] = "微调模型 − TF-IDF：{0} [{1}, {2}] 个百分点 → {3}，{4}。"  # {4} invented
    zh_outputs.write_entries(path, lesson, entries)
    found = zh_outputs.problems([lesson])
    assert len(found) == 2 and all("the Chinese has placeholders" in problem for problem in found)
    assert "[0, 1, 2], its English [0, 1, 2, 3]" in found[0]
    notebook, left = translated(lesson)  # the build goes on, with those items in English
    assert left == 2 and notebook.cells[4].outputs[0].text == SUMMARY


def test_units_and_verdicts_without_chinese_are_caught(lesson, tmp_path):
    (tmp_path / "outputs" / "units.yml").write_text("units:\n  points: ''\n", encoding="utf-8")
    (found,) = zh_outputs.problems([lesson])
    assert found.startswith("42_test: no Chinese for the unit 'points'")
    notebook, left = translated(lesson)
    assert left == 1 and notebook.cells[1].outputs[0].data["text/markdown"].startswith("**Claim →**")
    notebook = nbformat.read(lesson, as_version=4)
    notebook.cells[1].outputs[0].data[stats.CLAIM_MIME]["verdict"] = "mostly"
    nbformat.write(notebook, lesson)
    assert any("no Chinese for the verdict 'mostly'" in problem for problem in zh_outputs.problems([lesson]))


def test_chinese_ledger_counts_verdicts_in_chinese(lesson):
    page = zh_outputs.chinese_claims([lesson])
    assert "共 1 条论断：成立 1 条。" in page
    assert ("| [42](notebooks/42_test.ipynb) | 预训练胜过从零训练 | 验证集准确率，218 条评论，5 个随机种子 | "
            "+28.4 [20.2, 36.7] 个百分点 | 12 个百分点 | **成立** |") in page
    assert "held" not in page and "claims" not in page.split("\n\n", 2)[2]


def test_every_lesson_file_is_well_formed():
    for path in sorted(zh_outputs.OUTPUTS.glob("[0-9][0-9]_*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(data) <= {"claims", "summary", "results"}, path
        for entry in data.get("claims", []) + data.get("summary", []) + data.get("results", []):
            assert set(entry) == {"en", "zh"}, (path, entry)


def test_the_built_chinese_notebooks_have_no_english_claim_line():
    for lesson in zh_edition.lessons(zh_edition.ZH_NOTEBOOKS):
        notebook = nbformat.read(lesson, as_version=4)
        claims = zh_outputs.claim_outputs(notebook)
        for output in claims:
            for mime in ("text/markdown", "text/plain"):
                assert not output.data[mime].startswith("**Claim →**"), f"{lesson.name}: {output.data[mime]}"
                assert output.data[mime].startswith("**论断 →**"), f"{lesson.name}: {output.data[mime]}"
