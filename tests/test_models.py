"""Task models, freezing by depth, parameter summaries, and the exactness of cached frozen activations."""
import pytest
import torch

from sft_helpers import load_causal_lm, load_encoder
from sft_helpers.features import CachedTop, advance_cache, cache_frozen_activations, collate_cached, padding_mask
from sft_helpers.models import (
    count_parameters, decoder_classifier, encoder_classifier, freeze, parameters_by_block, trainable_summary,
)

TEXTS = ["Short.", "A somewhat longer review of a hotel that was fine, really.", "Awful service!"]


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("minilm")


@pytest.fixture(scope="module")
def smollm2():
    return load_causal_lm("smollm2-135m")


def rows_for(tokenizer):
    return [{"input_ids": tokenizer(text)["input_ids"], "labels": 0} for text in TEXTS]


def test_classifier_outputs_one_score_per_class_or_one_value(minilm):
    encoder, tokenizer = minilm
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert encoder_classifier(encoder, 3).eval()(**batch).shape == (3, 3)
    assert encoder_classifier(encoder, 1).eval()(**batch).shape == (3,)


def test_padding_mask_marks_the_real_positions():
    assert padding_mask(torch.tensor([1, 3]), 4).tolist() == [[1, 0, 0, 0], [1, 1, 1, 0]]


def test_mean_pooling_ignores_padding(minilm):
    encoder, tokenizer = minilm
    model = encoder_classifier(encoder, 3).eval()
    alone = model(**tokenizer(TEXTS[:1], return_tensors="pt"))
    padded = model(**tokenizer(TEXTS, padding=True, return_tensors="pt"))[:1]
    assert torch.allclose(alone, padded, atol=1e-5)


@pytest.mark.parametrize("k, trainable", [(0, 1155), (1, 1155 + 1774464), (6, 1155 + 6 * 1774464)])
def test_freeze_trains_the_head_and_the_top_k_layers(minilm, k, trainable):
    model = freeze(encoder_classifier(minilm[0], 3), k)
    assert trainable_summary(model)["trainable"] == trainable
    assert not model.backbone.embeddings.word_embeddings.weight.requires_grad


def test_freeze_none_trains_everything_and_bad_depth_is_refused(minilm):
    model = freeze(encoder_classifier(minilm[0], 3), None)
    assert count_parameters(model, trainable_only=True) == count_parameters(model)
    with pytest.raises(ValueError, match="between 0 and 6"):
        freeze(model, 7)


def test_parameters_by_block_adds_up(minilm):
    table = parameters_by_block(minilm[0])
    assert table["parameters"].sum() == count_parameters(minilm[0]) and "encoder.layer.5" in set(table["block"])


@pytest.mark.parametrize("k", [0, 1, 2, 6])
def test_cached_path_gives_the_full_models_logits_in_eval_mode(minilm, k):
    encoder, tokenizer = minilm
    model = freeze(encoder_classifier(encoder, 3), k).eval()
    expected = model(**tokenizer(TEXTS, padding=True, return_tensors="pt"))
    batch = collate_cached(cache_frozen_activations(model, rows_for(tokenizer), k))
    actual = CachedTop(model, k).eval()(batch["hidden"], batch["attention_mask"])
    assert torch.allclose(expected, actual, atol=1e-5)


def test_advancing_a_cache_matches_caching_fewer_trainable_blocks(minilm):
    encoder, tokenizer = minilm
    model = freeze(encoder_classifier(encoder, 3), 2).eval()
    deeper = cache_frozen_activations(model, rows_for(tokenizer), 2)
    for fewer in (1, 0):
        direct = cache_frozen_activations(model, rows_for(tokenizer), fewer)
        advanced = advance_cache(model, deeper, 2, fewer)
        assert all(torch.allclose(a["hidden"], d["hidden"], atol=1e-5) for a, d in zip(advanced, direct))
        assert all(torch.equal(a["labels"], d["labels"]) for a, d in zip(advanced, direct))


def test_cached_path_is_exact_for_the_decoder_too(smollm2):
    decoder, tokenizer = smollm2
    tokenizer.padding_side = "right"
    model = freeze(decoder_classifier(decoder, 3), 1).eval()
    expected = model(**tokenizer(TEXTS, padding=True, return_tensors="pt"))
    batch = collate_cached(cache_frozen_activations(model, rows_for(tokenizer), 1))
    assert torch.allclose(expected, CachedTop(model, 1).eval()(batch["hidden"], batch["attention_mask"]), atol=1e-5)


def test_decoder_classifier_reads_the_last_real_token(smollm2):
    decoder, tokenizer = smollm2
    tokenizer.padding_side = "right"
    model = decoder_classifier(decoder, 2).eval()
    alone = model(**tokenizer(TEXTS[:1], return_tensors="pt"))
    padded = model(**tokenizer(TEXTS, padding=True, return_tensors="pt"))[:1]
    assert torch.allclose(alone, padded, atol=1e-4)
