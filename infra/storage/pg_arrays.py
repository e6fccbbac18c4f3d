"""The write path's arrays, sent to PostgreSQL in its binary array format, built in one pass.

A batch's insert sends four arrays (uuid[], bigint[], text[], bytea[]) and its prefetch two
(uuid[], bigint[]). psycopg dumps a list parameter element by element: it looks up a dumper for
each element, calls it, and packs its length, in Python (about 3.7 µs an event for the insert's
four arrays on this machine). These wrappers say what the elements are, so the whole array is
written at once: the header, then each element's length and bytes. The bytes are PostgreSQL's
binary forms (`uuid_send`, `int8send`, `textsend`, `bytea_send`); tests/integration checks that
the server reads back exactly the values sent, and that a wrong element is refused here, not
stored.

Pass them with a binary placeholder (`%b`); any other list parameter is dumped by psycopg as
before.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from uuid import UUID

from psycopg import adapters
from psycopg.adapt import Dumper
from psycopg.pq import Format

_HEAD = struct.Struct(">iiIii").pack  # dimensions, has nulls, element oid, length, lower bound
_LENGTH = struct.Struct(">i").pack
_UUID_LENGTH = _LENGTH(16)
_INT8_LENGTH = _LENGTH(8)
_INT8 = struct.Struct(">q").pack


class UuidArray(list[UUID | str]):
    """A uuid[] parameter (UUIDs, or their text)."""


class BigintArray(list[int]):
    """A bigint[] parameter (each element within 64 bits, else struct.error: nothing is sent)."""


class TextArray(list[str]):
    """A text[] parameter (UTF-8)."""


class ByteaArray(list[bytes]):
    """A bytea[] parameter."""


def _header(count: int, element_oid: int) -> bytes:
    return _HEAD(1, 0, element_oid, count, 1)


def _variable(values: Iterable[bytes]) -> bytes:
    parts: list[bytes] = []
    add = parts.append
    for value in values:
        add(_LENGTH(len(value)))
        add(value)
    return b"".join(parts)


class UuidArrayDumper(Dumper):
    format = Format.BINARY
    oid = 2951  # uuid[]; its elements' oid is in the header

    def dump(self, obj: UuidArray) -> bytes:
        try:
            body = b"".join([_UUID_LENGTH + value.int.to_bytes(16, "big") for value in obj])  # type: ignore[union-attr]
        except AttributeError:  # not all UUIDs: each read as one (ValueError if it is none)
            body = b"".join([_UUID_LENGTH + UUID(str(value)).bytes for value in obj])
        return _header(len(obj), 2950) + body


class BigintArrayDumper(Dumper):
    format = Format.BINARY
    oid = 1016  # int8[]

    def dump(self, obj: BigintArray) -> bytes:
        return _header(len(obj), 20) + b"".join([_INT8_LENGTH + _INT8(value) for value in obj])


class TextArrayDumper(Dumper):
    format = Format.BINARY
    oid = 1009  # text[]

    def dump(self, obj: TextArray) -> bytes:
        encoded: dict[str, bytes] = {}  # a batch's topics repeat
        values = [encoded.get(t) or encoded.setdefault(t, t.encode("utf-8")) for t in obj]
        return _header(len(obj), 25) + _variable(values)


class ByteaArrayDumper(Dumper):
    format = Format.BINARY
    oid = 1001  # bytea[]

    def dump(self, obj: ByteaArray) -> bytes:
        return _header(len(obj), 17) + _variable(obj)


for _cls, _dumper in (
    (UuidArray, UuidArrayDumper),
    (BigintArray, BigintArrayDumper),
    (TextArray, TextArrayDumper),
    (ByteaArray, ByteaArrayDumper),
):
    adapters.register_dumper(_cls, _dumper)
