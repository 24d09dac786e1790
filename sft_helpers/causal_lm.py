"""Causal language models for SFT: chat prompts and greedy generation."""
from __future__ import annotations

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase


def chat_messages(prompt: str, system: str | None = None) -> list[dict[str, str]]:
    """A one-turn chat: an optional system message, then the user's prompt."""
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": prompt}]


@torch.no_grad()
def generate_replies(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_new_tokens: int = 48,
    system: str | None = None,
    batch_size: int = 16,
) -> list[str]:
    """Greedy replies to each prompt, through the model's chat template, batched with left padding."""
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    replies = []
    for start in range(0, len(prompts), batch_size):
        chats = [chat_messages(p, system) for p in prompts[start : start + batch_size]]
        texts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in chats]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        output = model.generate(
            **batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        replies += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    return replies
