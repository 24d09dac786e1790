"""Label-quality tools and the TF-IDF baseline, on small data made in the test."""
import numpy as np

from sft_helpers import baselines, quality

CLASSES = ("negative", "neutral", "positive")


def labelled_vectors(rows: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Three well-separated clusters of 8-dimensional vectors, one per class."""
    rng = np.random.default_rng(seed)
    labels = [CLASSES[i % 3] for i in range(rows)]
    centres = np.eye(3, 8) * 4
    return np.stack([centres[CLASSES.index(label)] + rng.normal(size=8) for label in labels]), labels


def test_kappa_per_class_is_one_for_identical_labels_and_lower_with_disagreement():
    labels = ["negative", "neutral", "positive"] * 10
    assert quality.kappa_per_class(labels, labels, CLASSES) == {"overall": 1.0, **{c: 1.0 for c in CLASSES}}
    other = ["neutral" if label == "positive" and i % 2 else label for i, label in enumerate(labels)]
    scores = quality.kappa_per_class(labels, other, CLASSES)
    assert scores["negative"] == 1.0 and scores["positive"] < 1.0 and scores["overall"] < 1.0


def test_adjudicate_takes_the_majority_then_the_third_annotator():
    assert quality.adjudicate(["a", "a", "a"], ["a", "b", "b"], ["b", "a", "c"]) == ["a", "a", "c"]


def test_label_error_detector_finds_flipped_labels():
    vectors, labels = labelled_vectors(300)
    wrong = np.zeros(300, dtype=bool)
    wrong[::15] = True  # 20 planted errors
    noisy = [CLASSES[(CLASSES.index(l) + 1) % 3] if w else l for l, w in zip(labels, wrong)]
    probabilities = quality.out_of_fold_probabilities(vectors, noisy)
    assert list(probabilities.columns) == list(CLASSES)
    given = quality.given_label_probability(probabilities, noisy)
    assert given[wrong].mean() < 0.2 < 0.8 < given[~wrong].mean()
    strict = quality.detector_scores(quality.suspected_label_errors(probabilities, noisy, threshold=0.2), wrong)
    loose = quality.detector_scores(quality.suspected_label_errors(probabilities, noisy, threshold=0.5), wrong)
    assert strict["planted"] == 20 and strict["precision"] > 0.9 and loose["recall"] >= 0.9
    assert loose["flagged"] >= strict["flagged"]


def test_detector_scores_of_a_detector_that_flags_nothing():
    assert quality.detector_scores([False, False], [True, False]) == {
        "flagged": 0, "planted": 1, "precision": 0.0, "recall": 0.0}


def test_paraphrase_pairs_finds_near_parallel_vectors_only():
    vectors = np.array([[1.0, 0.0], [0.99, 0.05], [0.0, 1.0]])
    pairs = quality.paraphrase_pairs(vectors, threshold=0.95)
    assert [(a, b) for a, b, _ in pairs] == [(0, 1)]


def test_tfidf_baseline_chooses_c_on_validation_and_learns_the_words():
    texts = ["great phone love it", "awful battery hate it", "fine I guess, nothing special"] * 20
    labels = ["positive", "negative", "neutral"] * 20
    baseline = baselines.fit_tfidf_baseline(texts, labels, texts[:6], labels[:6], grid=(0.1, 10.0))
    assert set(baseline.validation_accuracy) == {0.1, 10.0}
    assert baseline.validation_accuracy[baseline.chosen_c] == max(baseline.validation_accuracy.values())
    assert baseline.predict(["love this great phone", "hate the awful battery"]) == ["positive", "negative"]


def test_out_of_fold_probabilities_give_every_row_a_distribution():
    vectors, labels = labelled_vectors(30)
    probabilities = quality.out_of_fold_probabilities(vectors, labels, folds=3)
    assert probabilities.shape == (30, 3) and np.allclose(probabilities.sum(axis=1), 1.0)
