"""Instruction SFT: the data builder (masking, held-out phrasings, mixing), answer parsing and the invalid rate, the
forgetting probe's scoring, and saving and reloading an instruction model."""
import copy
import json
import shutil
from collections import Counter
from dataclasses import replace

import pytest
import torch

from sft_helpers import instruct, load_causal_lm, recipes
from sft_helpers.causal_lm import IGNORE_INDEX, learned_text
from sft_helpers.finetuned import FineTunedFolderError, FineTunedInstruct, load_finetuned, save_instruct
from sft_helpers.instruct import (
    GENERAL, HELDOUT, INVALID, TRAIN, Instruction, accuracy, classification_scores, instruction_rows,
    instruction_set, invalid_rate, load_phrasings, load_probe, macro_f1, parse_label, parse_labels, probe_correct,
    probe_results, shares,
)
from sft_helpers.tasks import NEWS_TOPICS, SENTIMENTS

PROMPTS = ["What is the capital of France?", "Is this review negative, neutral or positive?\n\nLovely soup."]


@pytest.fixture(scope="module")
def smollm2():
    return load_causal_lm("smollm2-135m")


def test_every_task_has_many_phrasings_some_chinese_and_some_held_out():
    phrasings = load_phrasings()
    for task in instruct.TASKS:
        trained = [p for p in phrasings if p.task == task and p.split == TRAIN]
        held = [p for p in phrasings if p.task == task and p.split == HELDOUT]
        assert len(trained) >= 15 and len(held) >= 3
        assert {p.language for p in trained} == {p.language for p in held} == {"en", "zh"}
        assert not {p.template for p in trained} & {p.template for p in held}


def test_held_out_phrasings_never_reach_the_training_data():
    held = {p.id: p for p in load_phrasings() if p.split == HELDOUT}
    items = instruction_set("train", 600, general_share=0.25)
    assert not {item.phrasing for item in items} & set(held)
    fixed_parts = {part.strip() for p in held.values() for part in p.template.split("{input}") if len(part.strip()) > 12}
    assert not [item for item in items if any(part in item.prompt for part in fixed_parts)]
    with pytest.raises(ValueError, match="evaluation only"):
        instruction_set("train", 10, phrasing_split=HELDOUT)


def test_evaluation_items_can_use_held_out_phrasings_on_the_same_rows():
    seen = instruction_set("test", 12, {"news": 1.0}, phrasing_split=TRAIN)
    unseen = instruction_set("test", 12, {"news": 1.0}, phrasing_split=HELDOUT)
    assert [item.answer for item in seen] == [item.answer for item in unseen]
    assert all(item.phrasing.startswith("news-") for item in unseen)
    assert {item.phrasing for item in unseen} <= {p.id for p in load_phrasings() if p.split == HELDOUT}


def test_the_mixing_ratio_and_general_share_are_kept():
    assert shares(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert shares(12, {"a": 2, "b": 1, "c": 1}) == {"a": 6, "b": 3, "c": 3}
    items = instruction_set("train", 40, general_share=0.25, seed=1)
    counts = Counter(item.task for item in items)
    assert counts[GENERAL] == 10 and {task: counts[task] for task in instruct.TASKS} == {"news": 8, "sentiment": 15,
                                                                                        "translation": 7}
    assert len({item.prompt for item in items}) == 40
    assert items != instruction_set("train", 40, general_share=0.25, seed=2)
    with pytest.raises(ValueError, match="general_share"):
        instruction_set("train", 10, general_share=1.0)


def test_only_the_answer_and_the_end_of_turn_are_learned(smollm2):
    _, tokenizer = smollm2
    items = [Instruction("sentiment", "sent-01", PROMPTS[1], "positive"), Instruction(GENERAL, "", PROMPTS[0], "Paris.")]
    for item, row in zip(items, instruction_rows(tokenizer, items)):
        chat = [{"role": "user", "content": item.prompt}]
        prompt = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        prompt_length = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        assert "SmolLM" in prompt  # the model's own default system prompt
        assert row["labels"][:prompt_length] == [IGNORE_INDEX] * prompt_length
        assert row["labels"][prompt_length:] == row["input_ids"][prompt_length:]
        assert learned_text(tokenizer, row["labels"]) == item.answer + "<|im_end|>\n"


def test_an_instruction_too_long_for_the_limit_is_refused(smollm2):
    with pytest.raises(ValueError, match="longer than 20 tokens"):
        instruction_rows(smollm2[1], [Instruction("news", "x", "word " * 30, "World")], max_length=20)


@pytest.mark.parametrize("reply, labels, expected", [
    ("Sports", NEWS_TOPICS, "Sports"),
    ("sci/tech", NEWS_TOPICS, "Sci/Tech"),
    ("The topic is Sci-Tech.", NEWS_TOPICS, "Sci/Tech"),
    ("Business, not World.", NEWS_TOPICS, "Business"),
    ("It is about business and the world economy", NEWS_TOPICS, "Business"),
    ("Worldwide news", NEWS_TOPICS, None),
    ("Technology", NEWS_TOPICS, None),
    ("POSITIVE!", SENTIMENTS, "positive"),
    ("The review is negative.", SENTIMENTS, "negative"),
    ("positively thrilled", SENTIMENTS, None),
    ("正面", SENTIMENTS, None),
    ("", SENTIMENTS, None),
])
def test_answers_are_parsed_against_the_label_set(reply, labels, expected):
    assert parse_label(reply, labels) == expected


def test_invalid_answers_count_as_wrong_and_are_reported():
    truth = ["positive", "negative", "neutral", "positive"]
    parsed = parse_labels(["Positive.", "I cannot tell", "neutral", "negative"], SENTIMENTS)
    assert parsed == ["positive", INVALID, "neutral", "negative"]
    assert invalid_rate(parsed) == 0.25 and accuracy(truth, parsed) == 0.5
    scores = classification_scores(truth, parsed, SENTIMENTS)
    assert scores == {"accuracy": 0.5, "macro_f1": pytest.approx((2 / 3 + 0 + 1) / 3), "invalid_rate": 0.25}
    assert macro_f1(SENTIMENTS)(truth, truth) == 1.0


def test_the_forgetting_probe_wants_an_accepted_answer_as_a_whole_word():
    assert probe_correct("The capital of France is Paris.", ["Paris"])
    assert probe_correct("7 times 8 is fifty-six", ["56", "fifty-six"])
    assert not probe_correct("It is 156.", ["56"]) and not probe_correct("Parisian food", ["Paris"])
    probe = load_probe()
    assert len(probe) == 80 and all(item["answers"] for item in probe)
    replies = [item["answers"][0] for item in probe[:3]] + ["no idea"]
    assert probe_results(replies, probe[:4]).tolist() == [True, True, True, False]


@pytest.fixture(scope="module")
def saved_instruct(smollm2, tmp_path_factory):
    """A SmolLM2 with a changed final norm, saved once as an instruction model: (model, tokenizer, folder)."""
    model, tokenizer = smollm2
    with torch.no_grad():
        model.model.norm.weight.mul_(1.05)
    heldout = [{"id": p.id, "task": p.task, "language": p.language, "template": p.template}
               for p in load_phrasings() if p.split == HELDOUT]
    folder = save_instruct(model, tokenizer, tmp_path_factory.mktemp("instruct"), "smollm2-135m", {"lr": 5e-5},
                           {"validation_news_accuracy_heldout_phrasings": 0.5}, recipes.MIXING_RATIO, 0.25, heldout,
                           {"files": {}, "split_sizes": {"train": 8}}, max_new_tokens=6)
    return model, tokenizer, folder


def test_round_trip_answers_like_the_model_in_memory(saved_instruct):
    model, tokenizer, folder = saved_instruct
    loaded = load_finetuned(folder)
    assert isinstance(loaded, FineTunedInstruct) and loaded.task == "instruct" and not loaded.model.training
    ids = tokenizer(PROMPTS[0], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(loaded.model(ids).logits, model(ids).logits)
    assert loaded.answer(PROMPTS) == instruct.answer(model, tokenizer, PROMPTS, max_new_tokens=6)
    assert loaded.answer([]) == []
    with pytest.raises(TypeError, match="list of strings"):
        loaded.answer(PROMPTS[0])


def test_the_card_states_tasks_ratio_held_out_phrasings_and_scores(saved_instruct):
    folder = saved_instruct[2]
    config = json.loads((folder / "sft_config.json").read_text(encoding="utf-8"))
    assert (config["kind"], config["tasks"], config["max_new_tokens"]) == ("instruct", list(instruct.TASKS), 6)
    card = (folder / "README.md").read_text(encoding="utf-8")
    for expected in ("news 1, sentiment 2, translation 1", "general instructions mixed in: 0.25", "news-19", "tran-22",
                     "| validation_news_accuracy_heldout_phrasings | 0.5 |", "label -100", "`smollm2-135m`"):
        assert expected in card


def test_reload_errors_name_the_problem(saved_instruct, tmp_path):
    shutil.copytree(saved_instruct[2], tmp_path / "a", ignore=shutil.ignore_patterns("model.safetensors"))
    with pytest.raises(FineTunedFolderError, match=r"complete fine-tuned instruct: missing model/model\.safetensors"):
        load_finetuned(tmp_path / "a")
    shutil.copytree(saved_instruct[2], tmp_path / "b")
    config = json.loads((tmp_path / "b" / "sft_config.json").read_text(encoding="utf-8"))
    del config["heldout_phrasings"]
    (tmp_path / "b" / "sft_config.json").write_text(json.dumps(config))
    with pytest.raises(FineTunedFolderError, match=r"lacks the key\(s\) heldout_phrasings"):
        load_finetuned(tmp_path / "b")
    with pytest.raises(FineTunedFolderError, match="fine-tuned for instruct, not for news"):
        load_finetuned(saved_instruct[2], task="news")


def test_each_task_is_answered_with_its_own_length_limit(smollm2):
    items = instruction_set("test", 6, {"news": 1.0, "translation": 1.0})
    assert [instruct.answer_limit(task) for task in ("news", "translation", GENERAL)] == [16, 40, instruct.PROBE_TOKENS]
    assert all(item.source for item in items)
    with pytest.raises(ValueError, match="one task at a time"):
        instruct.answer_items(*smollm2, items)


def test_cached_top_blocks_give_the_full_models_logits_at_the_answer_positions(smollm2):
    """Training the top blocks on cached activations computes what the whole model computes, only cheaper."""
    from sft_helpers.causal_lm import CachedDecoderTop, cache_decoder_activations, collate_cached_answers

    model, tokenizer = smollm2
    items = instruction_set("train", 6, seed=0)
    rows = instruction_rows(tokenizer, items)
    batch = collate_cached_answers(cache_decoder_activations(model, rows, 3))
    with torch.no_grad():
        cached = CachedDecoderTop(model, 3)(batch["hidden"], batch["attention_mask"], batch["answer_at"])
        padded = torch.nn.utils.rnn.pad_sequence([torch.tensor(r["input_ids"]) for r in rows], batch_first=True)
        mask = torch.nn.utils.rnn.pad_sequence([torch.ones(len(r["input_ids"]), dtype=torch.long) for r in rows],
                                               batch_first=True)
        full = model(input_ids=padded, attention_mask=mask).logits[batch["answer_at"]]
    learned = [label for row in rows for label in row["labels"][1:] if label != IGNORE_INDEX]
    assert batch["labels"].tolist() == learned and len(cached) == len(learned)
    assert torch.allclose(cached, full, atol=2e-3)


def test_labels_are_scored_by_the_likelihood_of_their_first_token(smollm2):
    model, tokenizer = smollm2
    firsts = instruct.label_first_tokens(tokenizer, NEWS_TOPICS)
    assert len(set(firsts)) == len(NEWS_TOPICS)
    with pytest.raises(ValueError, match="share a first token"):
        instruct.label_first_tokens(tokenizer, ["World", "World news"])
    items = instruction_set("test", 8, {"sentiment": 1.0}, seed=0)
    answers = instruct.likelihood_answers(model, tokenizer, items, SENTIMENTS)
    assert len(answers) == 8 and set(answers) <= set(SENTIMENTS)
    log_probs = instruct.label_log_probs(
        instruct.CachedDecoderTop(model, 30), instruct.cache_decoder_activations(
            model, instruct.prompt_rows(tokenizer, items), 30), instruct.label_first_tokens(tokenizer, SENTIMENTS))
    assert (log_probs < 0).all() and instruct.likeliest_labels(log_probs, SENTIMENTS) == answers


def test_a_general_share_larger_than_the_general_pool_repeats_it():
    items = instruction_set("train", 1200, general_share=0.25)
    general = [item for item in items if item.task == GENERAL]
    assert len(general) == 300 and max(Counter(item.source for item in general).values()) == 2


def test_training_the_cached_top_lowers_the_answer_loss(smollm2):
    model, tokenizer = copy.deepcopy(smollm2[0]), smollm2[1]
    items = instruction_set("train", 12, seed=0)
    config = replace(recipes.INSTRUCT.config, lr=1e-3, batch_size=4, epochs=2, warmup_steps=0)
    run = instruct.train_instruct(model, tokenizer, items, items[:6], config, top_blocks=2)
    assert run.cache_seconds > 0 and run.history.epochs[-1]["train_loss"] < run.history.epochs[0]["train_loss"]
    frozen = [p for p in model.model.layers[:-2].parameters()]
    assert all(not p.requires_grad for p in frozen)
    assert torch.equal(frozen[0], smollm2[0].model.layers[0].self_attn.q_proj.weight)
