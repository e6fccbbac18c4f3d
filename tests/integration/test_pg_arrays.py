"""The write path's binary arrays (infra.storage.pg_arrays): PostgreSQL reads back exactly the
values sent, in order, for any values the ledger sends, and a wrong element is refused before
anything is sent."""

from __future__ import annotations

import struct
import uuid

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.storage.pg_arrays import BigintArray, ByteaArray, TextArray, UuidArray
from tests.support.backends import postgres_base_url

TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))  # what text holds


@pytest.fixture(scope="module")
def conn():
    with psycopg.connect(postgres_base_url(), autocommit=True) as connection:
        yield connection


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(st.uuids(), st.integers(-(2**63), 2**63 - 1), TEXT, st.binary(max_size=300)), max_size=40)
)
def test_the_server_reads_back_every_value_in_order(conn, rows):
    ids, versions, topics, states = ([row[i] for row in rows] for i in range(4))
    back = conn.execute(
        "SELECT i, v, t, s FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
        "WITH ORDINALITY AS r(i, v, t, s, n) ORDER BY n",
        (UuidArray(ids), BigintArray(versions), TextArray(topics), ByteaArray(states)),
    ).fetchall()
    assert [(i, v, t, bytes(s)) for i, v, t, s in back] == rows


def test_uuids_given_as_text_are_sent_as_uuids_and_a_non_uuid_is_refused(conn):
    one = uuid.uuid4()
    assert conn.execute("SELECT %b::uuid[]", (UuidArray([str(one)]),)).fetchone()[0] == [one]
    with pytest.raises(ValueError):
        conn.execute("SELECT %b::uuid[]", (UuidArray(["not a uuid"]),))


def test_an_integer_beyond_64_bits_is_refused_before_sending(conn):
    with pytest.raises(struct.error, match="too large"):
        conn.execute("SELECT %b::bigint[]", (BigintArray([2**63]),))
