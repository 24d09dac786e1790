"""Small helpers behind the SFT course notebooks."""
from sft_helpers.pretrained import load_causal_lm, load_encoder
from sft_helpers.runtime import choose_device, environment_report, print_environment, seed_everything

__all__ = [
    "choose_device",
    "environment_report",
    "load_causal_lm",
    "load_encoder",
    "print_environment",
    "seed_everything",
]
