"""One JSON line of the platform's records in, one typed record or one coded refusal out.

The same guarantees as the ledger's own command lines, screened and loaded by the same functions
(`infra.commands.parsing`): a line is at most LINE_BYTES_MAX bytes of valid UTF-8, one JSON object
nested at most NESTING_MAX deep (a record is 3 deep: `output.setlinfo.acct_pay`; one level more is
still reported by field), field names are
short lower-case names, and no string holds a control character or a lone surrogate. Two more,
because these lines carry money: a field given twice in one object is refused (tools disagree on
which one counts), and JSON numbers are read from their text, never as floats (`NaN` and
`Infinity` are refused). Whatever a line holds, the parser returns: it never raises. Messages
name the field and never repeat a value (it may be an ID number).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, cast

from pydantic import BaseModel, ValidationError

from domain.errors import InvalidInputError
from infra.commands.parsing import invalid_input, load, screen_text
from infra.national.fields import JsonNumber
from infra.national.records import DetailLine, Reversal2208, Settlement2207, Statement3201

NESTING_MAX = 4
_FIELD_NAME = re.compile(r"^[a-z_]{1,32}$")
_BAD_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")  # C0 controls, DEL, lone surrogates

IMPORT_RECORDS: dict[str, type[BaseModel]] = {"2207": Settlement2207, "2208": Reversal2208}


def parse_import_line(raw: str | bytes) -> Settlement2207 | Reversal2208 | InvalidInputError:
    """A line of `ledger import national`: a 2207 settlement or a 2208 reversal."""
    return cast(Settlement2207 | Reversal2208 | InvalidInputError, _parse(raw, IMPORT_RECORDS))


def parse_statement_line(raw: str | bytes) -> Statement3201 | InvalidInputError:
    """A line of a statement file: a 3201 request envelope."""
    return cast(Statement3201 | InvalidInputError, _parse(raw, {"3201": Statement3201}))


def parse_detail_line(raw: str | bytes) -> DetailLine | InvalidInputError:
    """A line of an institution's 3202 detail: one setlinfo object."""
    return cast(DetailLine | InvalidInputError, _parse(raw, None))


def _parse(raw: str | bytes, by_infno: dict[str, type[BaseModel]] | None) -> BaseModel | InvalidInputError:
    text = screen_text(raw)
    if isinstance(text, InvalidInputError):
        return text
    try:
        data = load(text, nesting_max=NESTING_MAX, decode=_DECODE)
        if not isinstance(data, dict):
            raise InvalidInputError("line: must be a JSON object", field="line")
        _screen(data)
        return _validate(data, by_infno)
    except InvalidInputError as error:
        return error


def _validate(data: dict[str, Any], by_infno: dict[str, type[BaseModel]] | None) -> BaseModel:
    if by_infno is None:
        model: type[BaseModel] = DetailLine
    elif "infno" not in data:
        raise InvalidInputError("infno: required", field="infno")
    elif not isinstance(data["infno"], str) or data["infno"] not in by_infno:
        raise InvalidInputError(f"infno: must be {' or '.join(sorted(by_infno))} here", field="infno")
    else:
        model = by_infno[data["infno"]]
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_input(error, drop=0) from None


def _no_constant(name: str) -> None:
    raise ValueError("NaN and Infinity are not amounts")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise InvalidInputError("line: a field is given twice in one object", field="line")
    return data


# Numbers as their text (never floats), NaN and Infinity refused, a field given twice refused.
_DECODE = functools.partial(json.loads, parse_float=JsonNumber, parse_constant=_no_constant, object_pairs_hook=_object)


def _screen(data: dict[str, Any]) -> None:
    """Field names and characters at every depth (`load` has bounded the depth), breadth first."""
    level: list[tuple[str, Any]] = [("", data)]
    while level:
        below: list[tuple[str, Any]] = []
        for path, value in level:
            items = value.items() if isinstance(value, dict) else ((str(i), v) for i, v in enumerate(value))
            for key, item in items:
                if isinstance(value, dict) and not _FIELD_NAME.match(key):
                    where = path or "line"
                    raise InvalidInputError(
                        f"{where}: a field name that is not one of the record's fields", field=where
                    )
                at = f"{path}.{key}" if path else key
                if isinstance(item, str) and _BAD_CHARACTERS.search(item):
                    raise InvalidInputError(f"{at}: control character or lone surrogate in text", field=at)
                if isinstance(item, dict | list):
                    below.append((at, item))
        level = below
