"""The server's key cache: a verified key is kept for `key_cache_s`, so that a busy client's
requests do not each read the keys table; expiry is checked on every request, a revocation
through the same store takes hold at once, one made elsewhere within `key_cache_s`."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from starlette.requests import Request

from infra.access import keys as store_module
from infra.access.keys import KeyStore
from infra.eventstore.application import LedgerApp
from infra.service.deps import Service
from tests.support.backends import settings_for


@pytest.fixture
def stores(durable_url):
    app = LedgerApp(settings_for(durable_url))
    key = app.settings.pseudonym_key
    # the server's, and the CLI's (no cache)
    yield KeyStore(app.recorder, key, key_cache_s=0.5), KeyStore(app.recorder, key)
    app.close()


def test_a_cached_key_is_answered_without_reading_the_store(stores, monkeypatch):
    served, cli = stores
    key = cli.create_key("fund")
    assert served.cached_key(key["token"]) is None
    assert served.key_for_token(key["token"])["key_id"] == key["key_id"]

    def no_store(*_args, **_kwargs):
        raise AssertionError("the keys table was read")

    monkeypatch.setattr(served.tables, "transaction", no_store)
    assert served.cached_key(key["token"])["key_id"] == key["key_id"]
    assert served.key_for_token(key["token"])["key_id"] == key["key_id"]


def test_a_key_revoked_by_another_process_stops_working_within_the_cache_time(stores):
    served, cli = stores
    key = cli.create_key("fund")
    assert served.key_for_token(key["token"]) is not None
    assert cli.revoke_key(key["key_id"])
    assert cli.key_for_token(key["token"]) is None  # the CLI's store caches nothing
    deadline = time.monotonic() + served.key_cache_s + 0.2
    while served.key_for_token(key["token"]) is not None:
        assert time.monotonic() < deadline, "a revoked key was still accepted after the cache time"
        time.sleep(0.05)


def test_a_key_revoked_through_the_servers_store_stops_at_once(stores):
    served, cli = stores
    key = cli.create_key("operator")
    assert served.key_for_token(key["token"]) is not None
    assert served.revoke_key(key["key_id"])
    assert served.cached_key(key["token"]) is None and served.key_for_token(key["token"]) is None


def test_a_cached_key_that_expires_is_refused_at_once(stores, monkeypatch):
    served, cli = stores
    key = cli.create_key("fund", expires_days=1)
    assert served.key_for_token(key["token"]) is not None
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat(timespec="seconds")
    monkeypatch.setattr(store_module, "now_iso", lambda: later)
    assert served.cached_key(key["token"]) is None and served.key_for_token(key["token"]) is None


def test_unknown_tokens_are_not_cached(stores):
    served, _ = stores
    for n in range(50):
        assert served.key_for_token(f"lk_guess_{n}") is None
    assert served._keys == {}


def test_requests_that_miss_the_cache_together_read_the_store_once(stores, monkeypatch):
    """When the cache time runs out under load, every request in flight misses at once: they
    wait for one read of the keys table instead of each reading it in a thread of its own."""
    served, cli = stores
    key = cli.create_key("fund")
    reads = []
    read = served.key_for_token

    def slow_read(token):
        reads.append(token)
        time.sleep(0.05)  # long enough for all the requests below to arrive while it runs
        return read(token)

    monkeypatch.setattr(served, "key_for_token", slow_read)
    service = Service(ledger=SimpleNamespace(keys=served), writer=None, metrics=None, ready_lag_max=0)  # type: ignore[arg-type]  # only its keys are used

    def request():
        headers = [(b"authorization", f"Bearer {key['token']}".encode())]
        return Request({"type": "http", "method": "POST", "path": "/v1/commands", "headers": headers})

    async def many():
        return await asyncio.gather(*(service.authenticate(None, request()) for _ in range(20)))

    principals = asyncio.run(many())
    assert {p.key_id for p in principals} == {key["key_id"]}
    assert len(reads) == 1
    assert service.reads_in_flight() == 0  # nothing is kept once the read is done
