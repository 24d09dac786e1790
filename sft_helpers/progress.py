"""Progress bars for everything slower than a few seconds (one place decides how they look)."""
from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


def progress_bar(**kwargs: Any) -> tqdm:
    """A tqdm progress bar; the keyword arguments are tqdm's (total, desc, unit, disable, leave…)."""
    return tqdm(**kwargs)
