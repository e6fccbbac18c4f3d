"""The server's log configuration: uvicorn's, with every ID number in a log line masked (its
access log prints request paths and queries, which a careless client may fill with one, run
together with other characters or digits: `mask_digit_runs` masks every run of 17 digits or more)."""

from __future__ import annotations

import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from domain.masking import mask_digit_runs


class RedactIdNumbers(logging.Filter):
    """Masks any ID number in a log line, in its message and its arguments (any argument is
    rendered as text first: a number can hide in a tuple or a URL object)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict):
            record.args = {k: mask_digit_runs(str(v)) for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(a if isinstance(a, int | float) else mask_digit_runs(str(a)) for a in record.args)
        if isinstance(record.msg, str):
            record.msg = mask_digit_runs(record.msg)
        if record.exc_info and not record.exc_text:  # a traceback's messages may hold a number too
            record.exc_text = mask_digit_runs(logging.Formatter().formatException(record.exc_info))
        return True


def log_config() -> dict[str, Any]:
    config = {**LOGGING_CONFIG, "filters": {"redact": {"()": RedactIdNumbers}}}
    config["handlers"] = {
        name: {**handler, "filters": ["redact"]} for name, handler in LOGGING_CONFIG["handlers"].items()
    }
    return config
