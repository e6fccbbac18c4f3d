"""Multi-host PostgreSQL URLs (a primary and its standby) reach the library and psycopg whole."""

from __future__ import annotations

import dataclasses

from infra.settings import Settings
from infra.storage.opening import persistence_env, postgres_env
from infra.store_urls import postgres_connect_params, postgres_hosts

HA_URL = "postgresql://postgres:p%40ss@127.0.0.1:5441,127.0.0.1:5442/ledger?target_session_attrs=read-write&schema=s1"


def test_hosts_and_ports_keep_every_server_in_order():
    assert postgres_hosts(HA_URL) == ("127.0.0.1,127.0.0.1", "5441,5442")
    assert postgres_hosts("postgresql://u@db1,db2:6000/x") == ("db1,db2", "5432,6000")
    assert postgres_hosts("postgresql://[::1]:5441,[::1]:5442/x") == ("::1,::1", "5441,5442")
    assert postgres_hosts("postgresql:///x") == ("127.0.0.1", "5432")


def test_env_for_the_library_carries_the_lists_and_the_credentials():
    env = postgres_env(HA_URL)
    assert env["POSTGRES_HOST"] == "127.0.0.1,127.0.0.1" and env["POSTGRES_PORT"] == "5441,5442"
    assert env["POSTGRES_DBNAME"] == "ledger" and env["POSTGRES_SCHEMA"] == "s1"
    assert env["POSTGRES_USER"] == "postgres" and env["POSTGRES_PASSWORD"] == "p@ss"


def test_libpq_parameters_are_the_query_less_our_schema():
    assert postgres_connect_params(HA_URL) == {"target_session_attrs": "read-write"}
    assert postgres_connect_params("postgresql://h/x?schema=s") == {}


def test_a_read_app_prefers_a_standby_and_creates_no_table():
    settings = Settings(
        db="postgresql://postgres@h1:5441,h2:5442/ledger?schema=s", pseudonym_key=b"k" * 16, using_development_key=False
    )
    assert persistence_env(settings)["CREATE_TABLE"] == "y" and settings.connect_params() == {}
    reader = dataclasses.replace(settings, read_only=True)
    assert persistence_env(reader)["CREATE_TABLE"] == "n"
    assert reader.connect_params() == {"target_session_attrs": "prefer-standby"}
    explicit = dataclasses.replace(reader, db=reader.db + "&target_session_attrs=standby")
    assert explicit.connect_params() == {"target_session_attrs": "standby"}


def test_the_pool_gets_the_parameters_before_it_connects():
    from eventsourcing.postgres import PostgresFactory

    from infra.storage.opening import apply_connect_params

    settings = Settings(db=HA_URL, pseudonym_key=b"k" * 16, using_development_key=False)
    factory = PostgresFactory(persistence_env(settings))
    apply_connect_params(factory, settings)
    kwargs = factory.datastore.pool.kwargs
    assert isinstance(kwargs, dict)
    assert kwargs["host"] == "127.0.0.1,127.0.0.1" and kwargs["port"] == "5441,5442"
    assert kwargs["target_session_attrs"] == "read-write"
    assert factory.datastore.pool.closed  # nothing connected yet
