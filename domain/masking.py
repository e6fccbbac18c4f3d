"""Masking ID numbers: the one answer to "show this number, or this text, without the number".

A masked number keeps the first six characters (the region) and the last four, so people can
still tell their relatives apart; everything else in the ledger's output and stored free text
goes through `mask_id_numbers`. Imports nothing: `domain.errors` masks messages with it and
`domain.ids` (which raises those errors) masks numbers with it.
"""

from __future__ import annotations

import re


def mask(number: str) -> str:
    """First 6 characters, 8 asterisks, last 4: '110105********123X'."""
    return number[:6] + "*" * 8 + number[-4:]


# Anything that looks like an 18-character ID number in text: 17 digits and a digit or X (either
# case; ASCII or full-width), not part of a longer run of digits. Bounded by digits only, not by
# `\b`: Chinese text puts characters right against the number ("身份证110105...丢失"), and `\b`
# treats those characters as part of a word. Over-masking a number that is not an ID is harmless.
ID_NUMBER_LIKE = re.compile(r"(?<![0-9０-９])[0-9０-９]{17}[0-9０-９XxＸｘ](?![0-9０-９])")


def mask_id_numbers(text: str) -> str:
    """`text` with every ID-number-like substring masked as `mask` does (6 + 8 asterisks + 4)."""
    return ID_NUMBER_LIKE.sub(lambda match: mask(match.group()), text)


def holds_id_number(text: str) -> bool:
    return ID_NUMBER_LIKE.search(text) is not None


# In text no one checks digit by digit (a log line, a URL echoed in an error), a number may be run
# together with other digits (`/v1/persons/1101051980010101120`); there, any run of 17 digits or
# more (and a check character) is masked whole, keeping only its first 6 and last 4 characters.
# Not for answers that carry digests: a hash's hex can hold such a run.
DIGIT_RUN = re.compile(r"[0-9０-９]{17,}[XxＸｘ]?")


def mask_digit_runs(text: str) -> str:
    """`text` with every run of 17 or more digits masked, a longer run wholly but for its ends."""
    return DIGIT_RUN.sub(lambda match: _mask_run(match.group()), text)


def _mask_run(run: str) -> str:
    return run if len(run) < 18 else run[:6] + "*" * (len(run) - 10) + run[-4:]
