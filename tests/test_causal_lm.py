"""Causal-LM SFT: loss masking, padding, the shifted loss, freezing, LoRA, and generation for a task."""
import pytest
import torch
import torch.nn.functional as F

from sft_helpers import load_causal_lm
from sft_helpers.causal_lm import (
    IGNORE_INDEX, add_lora, build_sft_example, causal_lm_loss, conversational_dataset, freeze_decoder,
    generate_outputs, label_summary, learned_text, peak_memory, prompt_and_answer_lengths, sft_collator, sft_rows,
    share_with_chinese, task_messages,
)
from sft_helpers.models import count_parameters
from sft_helpers.tasks import COURSE_TASKS, Task

ZH, EN = "我喜欢喝茶。", "I like drinking tea."
TRANSLATION = COURSE_TASKS["translation"]


@pytest.fixture(scope="module")
def smollm2():
    return load_causal_lm("smollm2-135m")


@pytest.fixture(scope="module")
def tokenizer(smollm2):
    return smollm2[1]


def test_prompt_positions_are_masked_and_the_answer_is_learned(tokenizer):
    example = sft_rows(tokenizer, TRANSLATION, [{"zh": ZH, "en": EN}])[0]
    chat = task_messages(TRANSLATION, {"zh": ZH})
    prompt = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    prompt_length = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    labels, input_ids = example["labels"], example["input_ids"]
    assert len(labels) == len(input_ids) == len(example["attention_mask"]) and all(example["attention_mask"])
    assert labels[:prompt_length] == [IGNORE_INDEX] * prompt_length
    assert labels[prompt_length:] == input_ids[prompt_length:] and IGNORE_INDEX not in labels[prompt_length:]
    assert learned_text(tokenizer, labels) == EN + "<|im_end|>\n"


def test_the_task_replaces_the_default_system_prompt(tokenizer):
    asked = build_sft_example(tokenizer, ZH, EN, system=TRANSLATION.instruction)
    assert "SmolLM" not in tokenizer.decode(asked["input_ids"])
    assert "SmolLM" in tokenizer.decode(build_sft_example(tokenizer, ZH, EN)["input_ids"])


def test_truncation_keeps_the_start(tokenizer):
    example = build_sft_example(tokenizer, ZH, EN, max_length=10)
    assert len(example["input_ids"]) == len(example["labels"]) == 10
    assert example["input_ids"] == build_sft_example(tokenizer, ZH, EN)["input_ids"][:10]


def test_collator_pads_on_the_right(tokenizer):
    rows = [build_sft_example(tokenizer, ZH, EN), build_sft_example(tokenizer, "你好", "Hello.")]
    short = len(rows[1]["input_ids"])
    batch = sft_collator(tokenizer)(rows)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape == (2, len(rows[0]["input_ids"]))
    assert (batch["input_ids"][1, short:] == tokenizer.pad_token_id).all()
    assert (batch["attention_mask"][1, short:] == 0).all() and (batch["attention_mask"][1, :short] == 1).all()
    assert (batch["labels"][1, short:] == IGNORE_INDEX).all()
    assert batch["labels"][1, :short].tolist() == rows[1]["labels"]


def test_loss_is_shifted_and_ignores_masked_labels():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    labels = torch.tensor([[-100, -100, 3, 4, 1], [-100, 2, 5, -100, -100]])
    manual = [F.cross_entropy(logits[b, t - 1], labels[b, t]) for b in range(2) for t in range(1, 5) if labels[b, t] != -100]
    assert torch.allclose(causal_lm_loss(logits, labels), torch.stack(manual).mean())
    changed = logits.clone()
    changed[1, 3:] += 100.0  # positions 3 and 4 only predict masked labels (or nothing)
    assert torch.allclose(causal_lm_loss(changed, labels), causal_lm_loss(logits, labels))


def test_freeze_decoder_trains_only_the_top_blocks_and_the_norm(smollm2):
    model, _ = smollm2
    freeze_decoder(model, 4)
    block = sum(p.numel() for p in model.model.layers[-1].parameters())
    norm = model.model.norm.weight.numel()
    assert count_parameters(model, trainable_only=True) == 4 * block + norm
    assert not model.model.embed_tokens.weight.requires_grad and not model.lm_head.weight.requires_grad
    freeze_decoder(model, 0)
    assert count_parameters(model, trainable_only=True) == 0
    with pytest.raises(ValueError):
        freeze_decoder(model, 31)
    freeze_decoder(model, None)  # None: train everything, as in `freeze`
    assert count_parameters(model, trainable_only=True) == count_parameters(model)


def test_lora_trains_only_the_adapters():
    model, _ = load_causal_lm("smollm2-135m")
    total = count_parameters(model)
    peft_model = add_lora(model, r=8, target_modules=("q_proj", "v_proj"))
    trainable = count_parameters(peft_model, trainable_only=True)
    config = model.config
    kv_width = config.num_key_value_heads * config.hidden_size // config.num_attention_heads
    expected = config.num_hidden_layers * 8 * (2 * config.hidden_size + config.hidden_size + kv_width)
    assert trainable == expected > 0
    assert count_parameters(peft_model) == total + trainable
    assert all("lora_" in name for name, p in peft_model.named_parameters() if p.requires_grad)


def test_label_summary_and_chinese_share(tokenizer):
    summary = label_summary(tokenizer, build_sft_example(tokenizer, ZH, EN)["labels"])
    assert summary["learned text"] == repr(EN + "<|im_end|>\n")
    assert summary["masked (-100)"] + summary["learned"] == summary["positions"]
    assert share_with_chinese(["I like tea.", "我喜欢 tea", "我", "Tea."]) == 0.5


def test_peak_memory_sees_a_large_allocation():
    with peak_memory(torch.device("cpu")) as memory:
        block = torch.ones(50_000_000)  # 200 MB
        del block
    assert memory["peak_mb"] > 150


def test_generate_outputs_returns_one_string_per_text_and_keeps_the_mode(smollm2):
    model, tokenizer = smollm2
    model.train()
    tokenizer.padding_side = "right"
    replies = generate_outputs(model, tokenizer, TRANSLATION, [ZH, "你好"], max_new_tokens=4)
    assert len(replies) == 2 and all(isinstance(reply, str) for reply in replies)
    assert model.training and tokenizer.padding_side == "right"  # generation pads on the left, then restores it
    model.eval()


def test_sft_rows_follow_the_task_columns_and_instruction(tokenizer):
    pairs = [{"question": ZH, "answer": EN}]
    task = Task("qa", "seq2seq", {}, ("question",), "answer", instruction=None)
    row = sft_rows(tokenizer, task, pairs)[0]
    assert row == build_sft_example(tokenizer, ZH, EN) != sft_rows(tokenizer, TRANSLATION, [{"zh": ZH, "en": EN}])[0]
    assert learned_text(tokenizer, row["labels"]).startswith(EN)


def test_conversational_dataset_asks_each_row_with_the_task_system_prompt():
    rows = conversational_dataset(TRANSLATION, [{"zh": ZH, "en": EN}, {"zh": "你好", "en": "Hello."}])
    system, user = {"role": "system", "content": TRANSLATION.instruction}, {"role": "user", "content": "你好"}
    assert rows[1]["prompt"] == [system, user]
    assert rows[1]["completion"] == [{"role": "assistant", "content": "Hello."}]


def test_prompt_and_answer_lengths_count_masked_and_learned_positions(tokenizer):
    rows = [build_sft_example(tokenizer, ZH, EN), build_sft_example(tokenizer, "你好", "Hello.")]
    lengths = prompt_and_answer_lengths(rows)
    for row, (prompt, answer) in zip(rows, lengths[["prompt", "answer"]].itertuples(index=False)):
        assert prompt == row["labels"].count(IGNORE_INDEX) and prompt + answer == len(row["input_ids"])
        assert answer == len(tokenizer(learned_text(tokenizer, row["labels"]), add_special_tokens=False)["input_ids"])
