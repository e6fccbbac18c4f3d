"""The server's log configuration: uvicorn's, with every ID number in a log line masked (its
access log prints request paths and queries, which a careless client may fill with one)."""

from __future__ import annotations

import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from domain.masking import mask_id_numbers


class RedactIdNumbers(logging.Filter):
    """Masks any ID number in a log line, in its message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(mask_id_numbers(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = mask_id_numbers(record.msg)
        return True


def log_config() -> dict[str, Any]:
    config = {**LOGGING_CONFIG, "filters": {"redact": {"()": RedactIdNumbers}}}
    config["handlers"] = {
        name: {**handler, "filters": ["redact"]} for name, handler in LOGGING_CONFIG["handlers"].items()
    }
    return config
