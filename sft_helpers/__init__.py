"""Small helpers behind the SFT course notebooks."""
from typing import Any

from sft_helpers.runtime import choose_device, environment_report, print_environment, seed_everything

LAZY = {"load_causal_lm", "load_encoder"}  # they import transformers: `import sft_helpers.x` stays light without them

__all__ = ["choose_device", "environment_report", "print_environment", "seed_everything", *sorted(LAZY)]


def __getattr__(name: str) -> Any:
    """The model loaders, imported from `sft_helpers.pretrained` on first use."""
    if name in LAZY:
        from sft_helpers import pretrained

        return getattr(pretrained, name)
    raise AttributeError(f"module 'sft_helpers' has no attribute {name!r}")
