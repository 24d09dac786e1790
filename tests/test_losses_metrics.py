"""Loss functions written out by hand, and the metric helpers."""
import pytest
import torch
import torch.nn.functional as F

from sft_helpers import losses, metrics
from sft_helpers.tasks import COURSE_TASKS, SEQ2SEQ, Task

TRANSLATION = COURSE_TASKS["translation"]


def test_stable_cross_entropy_matches_pytorch_even_for_huge_logits():
    logits, labels = torch.tensor([[1000.0, 0.0, -1000.0], [0.5, 2.0, -1.0]]), torch.tensor([1, 1])
    assert torch.allclose(losses.cross_entropy_by_hand(logits, labels), F.cross_entropy(logits, labels))
    assert not torch.isfinite(losses.naive_cross_entropy(logits, labels))


def test_mse_on_one_hot_is_zero_for_a_certain_correct_prediction():
    assert losses.mse_on_one_hot(torch.tensor([[100.0, 0.0, 0.0]]), torch.tensor([0])).item() == pytest.approx(0)
    assert losses.mse_on_one_hot(torch.tensor([[100.0, 0.0, 0.0]]), torch.tensor([1])).item() == pytest.approx(2 / 3)


def test_inverse_frequency_weights_balance_the_classes():
    weights = losses.inverse_frequency_weights([0, 1, 1, 1], 2)
    assert weights.tolist() == [2.0, pytest.approx(2 / 3)]


def test_unknown_regression_loss_is_refused():
    with pytest.raises(ValueError, match="choose one of"):
        losses.regression_loss("hinge")


def test_classification_and_regression_metrics():
    scores = metrics.classification_metrics(torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]), torch.tensor([0, 1, 1]))
    assert scores["accuracy"] == pytest.approx(2 / 3)
    regression = metrics.regression_metrics(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 5.0]))
    assert regression["mse"] == pytest.approx(4 / 3) and regression["mae"] == pytest.approx(2 / 3)


def test_report_and_confusion_frames_name_the_classes():
    report = metrics.classification_report_frame([0, 0, 1, 2], [0, 1, 1, 2], ["a", "b", "c"])
    assert report.loc["a", "recall"] == 0.5 and report.loc["b", "precision"] == 0.5
    matrix = metrics.confusion_frame([0, 0, 1, 2], [0, 1, 1, 2], ["a", "b", "c"])
    assert matrix.loc["a", "b"] == 1 and matrix.values.sum() == 4


def test_calibration_error_is_zero_when_confidence_matches_accuracy():
    probabilities = torch.tensor([[0.75, 0.25]] * 4)
    assert metrics.expected_calibration_error(probabilities, torch.tensor([0, 0, 0, 1])) == pytest.approx(0)
    assert metrics.expected_calibration_error(probabilities, torch.tensor([1, 1, 1, 1])) == pytest.approx(0.75)


def test_identical_translations_score_100():
    sentences = ["I like drinking tea.", "The bank closes at four thirty, hurry up!"]
    assert metrics.generation_scores(TRANSLATION, sentences, sentences) == pytest.approx({"bleu": 100.0, "chrf": 100.0})
    assert metrics.generation_scores(TRANSLATION, ["Something else entirely"], sentences[:1])["bleu"] == 0.0


def test_generation_scores_follow_the_task_metrics():
    task = Task("upper", SEQ2SEQ, {}, ("word",), "upper", metrics=("exact_match",))
    assert metrics.generation_scores(task, ["CAT ", "dog"], ["CAT", "DOG"]) == {"exact_match": 50.0}


def test_sentence_statistics_resample_to_the_corpus_score():
    hypotheses = ["The cat sat on the mat.", "I like green tea.", "It rains today."]
    references = ["The cat sat on a mat.", "I love green tea.", "Today it is raining."]
    for metric in ("bleu", "chrf"):
        statistics = metrics.sentence_statistics(hypotheses, references, metric)
        assert statistics.shape[0] == 3
        corpus = metrics.generation_scores(TRANSLATION, hypotheses, references)[metric]
        assert metrics.corpus_score(metric)(None, statistics) == pytest.approx(corpus)


def test_translation_intervals_hold_the_corpus_score_and_the_differences():
    references = [f"The train to town number {n} leaves at nine." for n in range(40)]
    good = list(references)
    poor = [f"A bus {n} goes later." for n in range(40)]
    interval = metrics.translation_interval(good, references)
    assert interval.estimate == pytest.approx(100.0) and interval.low == pytest.approx(100.0)
    assert metrics.paired_translation_difference(good, poor, references).low > 0
    assert metrics.unpaired_translation_difference(good, references, poor, references).low > 0
