"""How a store's failure reads: one line, for a STORAGE_ERROR message."""

from __future__ import annotations


def one_line(error: BaseException) -> str:
    """The first line of a driver's or library's error (a one-line STORAGE_ERROR message)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
