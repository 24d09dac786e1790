"""Every default of the course in one table, to read top to bottom like a configuration file: the models by short
name, the recipe `sft-course train` uses for each task (and for your own file, by kind), lesson 10's instruction
recipe, and where the hyperparameter panel starts. Change a value here and the command line, its help, the model
loaders, the panel and the lessons that read it follow.

Used in lessons: 09, 10, 11
Used by: sft-course
"""
from __future__ import annotations

from dataclasses import dataclass

from sft_helpers.tasks import CLASSIFICATION, REGRESSION, SEQ2SEQ
from sft_helpers.train import TrainConfig


@dataclass(frozen=True)
class Recipe:
    """How a task is trained unless told otherwise: base model, trainable depth, token limit, loop settings, origin."""

    model: str  # packaged short name, folder or hub id
    trainable_top_layers: int | None  # None: train everything
    max_length: int  # tokens of one example; longer ones are cut
    config: TrainConfig
    source: str  # where the numbers come from, as `sft-course train --help` says


# ---- pretrained models (short names of `pretrained.PACKAGED_MODELS`) ----------------------------------------------
ENCODER_MODEL = "minilm"  # all-MiniLM-L6-v2, the encoder of lessons 00-08 and of `load_encoder()`
DECODER_MODEL = "smollm2-135m"  # SmolLM2-135M-Instruct, the chat model of lessons 09-11 and of `load_causal_lm()`

# ---- `sft-course train sentiment|news`, and `--data FILE` with --kind classification or regression -------------------
ENCODER = Recipe(
    model=ENCODER_MODEL,
    trainable_top_layers=2,  # the top 2 of MiniLM's 6 layers, and the new head
    max_length=128,  # tokens of one text (also `data.tokenize`'s cut); no course review or news item is longer
    config=TrainConfig(
        lr=1e-4,  # AdamW's peak learning rate
        batch_size=32,  # examples per step and process
        epochs=2,  # passes over the training data
        scheduler="linear",  # linear decay to 0 after the (here absent) warm-up
        group_by_length=True,  # batches of similar length: little padding
    ),
    source="the command line's own quick run; lessons 07 and 08 train longer, with early stopping",
)

# ---- `sft-course train translation`, and `--data FILE --kind seq2seq` ----------------------------------------------
DECODER = Recipe(
    model=DECODER_MODEL,
    trainable_top_layers=None,  # full fine-tuning: every block
    max_length=128,  # tokens of one chat (system prompt + source + target); `sft_rows`'s cut
    config=TrainConfig(
        lr=1e-4,  # AdamW's peak learning rate: small, every weight moves
        batch_size=8,  # chats per step and process
        epochs=1,  # passes over the sentence pairs
        scheduler="linear",  # linear decay to 0 after the warm-up
        warmup_steps=5,  # steps of linear warm-up from 0 to lr
        group_by_length=True,  # batches of similar length: little padding
    ),
    source="lesson 09's full fine-tuning",
)

# ---- `sft-course train instruct` and lessons 10-11: one chat model for the three tasks -----------------------------
# The top blocks train on activations of the frozen ones, cached once; the validation loss once per epoch (validating
# during the epoch would cost as much as training on the CPU). The command takes about 25 minutes on a 2-core CPU.
INSTRUCT_TASK = "instruct"  # the name `sft-course train` knows this recipe by
INSTRUCT = Recipe(
    model=DECODER_MODEL,
    trainable_top_layers=4,  # the top 4 decoder blocks (and the final norm); None would be full fine-tuning
    max_length=256,  # tokens of one chat (default system prompt + instruction + answer); no course item is longer
    config=TrainConfig(
        optimizer="adamw",  # the command line trains with AdamW only
        lr=5e-4,  # AdamW's peak learning rate: larger than DECODER's, fewer weights move
        batch_size=8,  # chats per step and process
        epochs=2,  # passes over the instructions
        scheduler="linear",  # linear decay to 0 after the warm-up
        warmup_steps=20,  # steps of linear warm-up from 0 to lr
        group_by_length=True,  # batches of similar length: little padding
    ),
    source="lesson 10's settings; the command trains on more instructions than the lesson",
)
# Shares of the task instructions: sentiment (three classes, the neutral middle) needs the most examples to learn.
MIXING_RATIO = {"news": 1.0, "sentiment": 2.0, "translation": 1.0}
GENERAL_SHARE = 0.1  # share of general instructions the command mixes in (lesson 11 measures why)
TRAIN_SIZE = 3000  # the command's instructions per epoch: task rows in MIXING_RATIO, and general ones
LESSON_SIZE = 192  # lesson 10's instructions: what five minutes on a 2-core CPU pay for
VALIDATION_SIZE = 120  # the command's validation instructions (their loss after each epoch)
EVAL_EXAMPLES = 24  # validation items per task and kind of phrasing the command scores by generation

# ---- the table `sft-course train` reads: a course task by name, else (your own file, `--data`) by its kind ---------
RECIPES = {"sentiment": ENCODER, "news": ENCODER, "translation": DECODER}
KIND_RECIPES = {CLASSIFICATION: ENCODER, REGRESSION: ENCODER, SEQ2SEQ: DECODER}

# ---- lesson 05's hyperparameter panel: it starts head-only, so with a larger lr and more epochs than TrainConfig ------
PANEL = TrainConfig(
    lr=3e-3,  # the panel's first learning rate, a step of its grid (`widgets.LEARNING_RATES`)
    epochs=10,  # passes over the training reviews
)
PANEL_TOP_LAYERS = 0  # 0: the head only


def recipe_for(task: str | None, kind: str) -> Recipe:
    """The recipe of a course task by name; for your own file (None) or a task the table lacks, that of its kind."""
    return RECIPES.get(task, KIND_RECIPES[kind])
