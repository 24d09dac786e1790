"""Where and how code runs: device choice, seeding, threads, mixed precision, an environment report.

Used in lessons: 00, 01, 02, 03, 04, 05, 06, 07, 08, 09, 10, 11
"""
from __future__ import annotations

import contextlib
import os
import platform
import random

import numpy as np
import torch

DEVICE_ENV_VAR = "SFT_DEVICE"


def choose_device(preferred: str | None = None) -> torch.device:
    """Return the best device: `preferred`, else $SFT_DEVICE, else cuda > mps > cpu."""
    wanted = preferred or os.environ.get(DEVICE_ENV_VAR)
    if wanted:
        device = torch.device(wanted)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"Device {wanted!r} was asked for, but CUDA is not available on this machine.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (all devices) so that runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def mixed_precision(device: torch.device) -> str:
    """Accelerate's name for the mixed precision on `device`: bf16 on CUDA where supported, else fp16; "no" elsewhere."""
    if device.type != "cuda":
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision on CUDA (as `mixed_precision` says); a no-op elsewhere."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if mixed_precision(device) == "bf16" else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def environment_report(device: torch.device | None = None) -> dict[str, str]:
    """Describe the machine and library versions the course is running on."""
    import transformers

    device = device or choose_device()
    report = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": str(device),
        "cpu threads": str(torch.get_num_threads()),
    }
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)
    return report


def print_environment(device: torch.device | None = None) -> None:
    """Print the environment report as aligned lines."""
    for key, value in environment_report(device).items():
        print(f"{key:>13}: {value}")


def available_devices() -> list[torch.device]:
    """Every device this machine can compute on: the CPU, then each CUDA GPU, then Apple's MPS."""
    devices = [torch.device("cpu")] + [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append(torch.device("mps"))
    return devices
