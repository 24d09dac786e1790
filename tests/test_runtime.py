"""Device choice, seeding and mixed precision."""
import contextlib
import subprocess
import sys

import pytest
import torch

from sft_helpers.runtime import autocast, choose_device, environment_report, mixed_precision, seed_everything


def test_environment_variable_overrides_the_device(monkeypatch):
    monkeypatch.setenv("SFT_DEVICE", "cpu")
    assert choose_device() == torch.device("cpu")


def test_asking_for_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        choose_device("cuda")


def test_without_accelerators_the_cpu_is_chosen(monkeypatch):
    monkeypatch.delenv("SFT_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert choose_device() == torch.device("cpu")


def test_seeding_repeats_random_draws():
    seed_everything(7)
    first = torch.rand(3)
    seed_everything(7)
    assert torch.equal(first, torch.rand(3))


def test_autocast_is_a_no_op_on_cpu():
    assert isinstance(autocast(torch.device("cpu")), contextlib.nullcontext)
    assert mixed_precision(torch.device("cpu")) == "no"


def test_environment_report_names_device_and_versions():
    report = environment_report(torch.device("cpu"))
    assert report["device"] == "cpu" and report["torch"] == torch.__version__


def test_available_devices_start_with_the_cpu(monkeypatch):
    from sft_helpers.runtime import available_devices

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert available_devices()[0] == torch.device("cpu") and torch.device("cuda", 0) not in available_devices()



def loaded_after(statement: str) -> list[str]:
    """Which of transformers and matplotlib a fresh interpreter has loaded after running `statement`."""
    probe = f"import sys; {statement}; print([m for m in ('transformers', 'matplotlib') if m in sys.modules])"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


def test_importing_the_package_and_its_cli_stays_light():
    """`import sft_helpers` loads no transformers, and the CLI loads matplotlib only when it draws a figure."""
    assert loaded_after("import sft_helpers, sft_helpers.stats") == "[]"
    assert loaded_after("import sft_helpers.cli") == "['transformers']"  # the CLI needs it; matplotlib waits
    assert loaded_after("from sft_helpers import load_encoder") == "['transformers']"
