"""Progress bars for everything slower than a few seconds (one place decides how they look).

In a terminal (the CLI) a bar is tqdm's text bar on stderr. In a Jupyter kernel it is a text bar too, not a
widget, so that a saved notebook reads the same in JupyterLab, the book and GitHub's viewer:

- while it runs, the bar (with rate, time left and any postfix such as the loss) is a display that updates in place;
- when it closes, that display is emptied and a bar that was asked to stay (``leave=True``, the default) prints
  its final line on stdout: ``training: 100%|██████████| 123/123 in 5.1 s``. The line holds no training
  number (no loss), only counts and the elapsed time, which nbval's sanitize file turns into ``TIME``;
- a bar with ``leave=False`` leaves nothing behind.

nbval does not replay display updates, so the stored outputs and a fresh run compare equal: an emptied display
contributes nothing to the comparison, and the final line is the same text.

Used in lessons: none
"""
from __future__ import annotations

import sys
from typing import Any

from tqdm.std import tqdm

FINAL_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt}"


def seconds_text(seconds: float) -> str:
    """Elapsed time as the final line prints it: one decimal under 10 s, whole seconds above."""
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def final_line(desc: str, n: int, total: int | None, seconds: float | str) -> str:
    """The text a finished bar leaves: its description, share done, bar, counts and elapsed time."""
    elapsed = seconds if isinstance(seconds, str) else seconds_text(seconds)
    if total:
        text = tqdm.format_meter(n, total, 0, prefix=desc, bar_format=FINAL_FORMAT)
    else:
        text = f"{desc}: {n}" if desc else f"{n}"
    return f"{text} in {elapsed}"


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbconvert, nbval), False in a terminal or plain Python."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


class _Discard:
    """A file that swallows what tqdm writes (the notebook bar draws through a display instead)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class NotebookTextBar(tqdm):
    """tqdm's text bar drawn in a display that updates in place, leaving only its final line on stdout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._handle = None
        if not kwargs.get("disable", False):
            from IPython.display import display

            self._handle = display({}, raw=True, display_id=True)  # empty: what nbval and a saved notebook keep
        kwargs["file"] = _Discard()
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        """Show the bar's current text (tqdm calls this on each refresh)."""
        if self._handle is not None:
            text = self.__str__() if msg is None else msg
            self._handle.update({"text/plain": text} if text else {}, raw=True)
        return True

    def close(self) -> None:
        """Empty the live display; print the final line on stdout unless leave=False."""
        if getattr(self, "disable", True):
            return
        leave = self.leave is None or self.leave
        line = final_line(self.desc.rstrip(": "), self.n, self.total, self.format_dict["elapsed"])
        super().close()
        if self._handle is not None:
            self._handle.update({}, raw=True)
        if leave:
            print(line)


def progress_bar(**kwargs: Any) -> tqdm:
    """A progress bar; the keyword arguments are tqdm's (total, desc, unit, disable, leave, iterable…)."""
    if in_jupyter_kernel():
        return NotebookTextBar(**kwargs)
    return tqdm(**kwargs)
