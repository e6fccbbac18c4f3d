"""The ledger as a service: `serve`, `keys create|list|revoke`, `access-log`, `bench-http`.

ledger serve [--host 127.0.0.1] [--port 8080] [--no-group-commit] [--writer process|thread]
             [--key-cache-seconds 1] [--no-follow-views]
ledger keys create --role ROLE [--channel C] [--institution I] [--region PREFIX] [--name TEXT]
                   [--expires-days N] [--json]
ledger keys list [--json]          ledger keys revoke KEY_ID
ledger access-log ID [--json]      (who read this person's data)
ledger bench-http [--clients 64] [--seconds 10] [--rounds 5] [--json]   (on PostgreSQL; docs/service.md)
"""

from __future__ import annotations

import click
import uvicorn

from infra.cli import output
from infra.cli.context import LedgerContext, fail, guarded
from infra.core.bootstrap import open_ledger
from infra.service.app import create_app
from infra.service.connections import IDLE_TIMEOUT_S_DEFAULT, MAX_CONNECTIONS_DEFAULT, uvicorn_limits
from infra.service.server_logging import log_config
from infra.settings import KEY_CACHE_S_DEFAULT, KEY_CACHE_S_LIMIT, warn_development_key
from infra.tools.bench_http import run as run_bench_http


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--no-group-commit", is_flag=True, help="One transaction per command (for comparison).")
@click.option(
    "--batch-max",
    default=500,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Most commands stored in one group commit.",
)
@click.option(
    "--wait-ms",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0, 1000),
    help="Once a batch has its first command, how long to wait for more.",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="uvicorn's per-request log line (ID numbers are masked in it).",
)
@click.option(
    "--writer",
    "writer_kind",
    type=click.Choice(["process", "thread"]),
    default=None,
    help="Where group commits are decided and stored: a child process (the default for a file "
    "or PostgreSQL store) or a thread of the server (the in-memory store).",
)
@click.option(
    "--key-cache-seconds",
    "key_cache_s",
    default=KEY_CACHE_S_DEFAULT,
    show_default=True,
    type=click.FloatRange(0, KEY_CACHE_S_LIMIT),
    help="How long a verified key is kept in memory (0: read the keys table on every request); "
    "a key revoked by another process is refused within this time.",
)
@click.option(
    "--follow-views/--no-follow-views",
    default=True,
    show_default=True,
    help="Keep the views current inside the server; with --no-follow-views run `ledger project --follow` beside it.",
)
@click.option(
    "--max-connections",
    default=MAX_CONNECTIONS_DEFAULT,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Open connections at most (uvicorn's limit_concurrency; past it, 503).",
)
@click.option(
    "--idle-timeout",
    "idle_timeout_s",
    default=IDLE_TIMEOUT_S_DEFAULT,
    show_default=True,
    type=click.IntRange(1, 3600),
    help="Seconds a connection may stay idle between requests (uvicorn's timeout_keep_alive).",
)
@click.option(
    "--province",
    default=None,
    help="With --federation: serve this province's ledger (a command about another province's person "
    "is answered 421 WRONG_LEDGER naming the province). Run the relay beside the servers.",
)
@click.pass_obj
@guarded
def serve(
    obj: LedgerContext,
    host: str,
    port: int,
    no_group_commit: bool,
    batch_max: int,
    wait_ms: float,
    access_log: bool,
    writer_kind: str | None,
    key_cache_s: float,
    follow_views: bool,
    max_connections: int,
    idle_timeout_s: int,
    province: str | None,
) -> None:
    """Serve the ledger over HTTP (FastAPI on uvicorn): OpenAPI at /openapi.json, docs at /docs."""
    settings = obj.province_settings(province) if obj.federation else obj.settings()
    warn_development_key(settings)
    ledger = open_ledger(settings, key_cache_s=key_cache_s)
    if writer_kind is None:
        writer_kind = "thread" if ledger.settings.backend == "memory" else "process"
    elif writer_kind == "process" and ledger.settings.backend == "memory":
        fail("--writer process needs a file or PostgreSQL store (the in-memory store is this process's own)")
    api = create_app(
        ledger,
        group_commit=not no_group_commit,
        batch_max=batch_max,
        wait_ms=wait_ms,
        follow_views=follow_views,
        writer_kind=writer_kind,
    )
    limits = uvicorn_limits(max_connections, idle_timeout_s)  # and each endpoint's body limit (admission)
    uvicorn.run(api, host=host, port=port, log_config=log_config(), access_log=access_log, workers=1, **limits)


@click.group()
def keys() -> None:
    """Bearer keys of the HTTP service (tokens are stored only as SHA-256)."""


@keys.command("create")
@click.option(
    "--role", required=True, type=click.Choice(["channel", "institution", "fund", "auditor", "operator", "admin"])
)
@click.option("--channel", default=None, help="channel role: the channel this key sends for (e.g. alipay).")
@click.option("--institution", default=None, help="institution role: the institution id this key settles for.")
@click.option("--region", default=None, help="auditor role: region-code prefix the key may read (e.g. 11).")
@click.option("--name", default=None, help="Who holds the key (free text).")
@click.option("--expires-days", default=None, type=click.IntRange(1, 3650))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def keys_create(
    obj: LedgerContext,
    role: str,
    channel: str | None,
    institution: str | None,
    region: str | None,
    name: str | None,
    expires_days: int | None,
    as_json: bool,
) -> None:
    """Create a key; its token is printed once and cannot be shown again."""
    if role == "channel" and not channel:
        fail("a channel key needs --channel")
    if role == "institution" and not institution:
        fail("an institution key needs --institution")
    if region is not None and not region.isdigit():
        fail("--region must be digits (a region-code prefix)")
    key = obj.ledger().keys.create_key(
        role, channel=channel, institution=institution, region=region, name=name, expires_days=expires_days
    )
    if as_json:
        output.emit_json(key)
    else:
        output.console.print(f"key {key['key_id']} ({role}); token (shown once): {key['token']}", highlight=False)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def keys_list(obj: LedgerContext, as_json: bool) -> None:
    """Every key (never the tokens)."""
    rows = obj.ledger().keys.list_keys()
    if as_json:
        output.emit_json({"keys": rows})
    else:
        shown = [{**{k: v or "-" for k, v in r.items()}, "proven": "yes" if r["proven"] else "NO"} for r in rows]
        output.console.print(output.rows_table("Keys", shown))
        if not all(r["proven"] for r in rows):
            output.console.print(
                "a key that is not proven authenticates nothing: adopt one made before key rows carried a MAC "
                "(`ledger keys adopt KEY_ID`) or revoke it; any other is an incident (docs/operations.md)",
                highlight=False,
            )


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
@guarded
def keys_revoke(obj: LedgerContext, key_id: str) -> None:
    """Revoke a key: its token is refused from the next request on."""
    if not obj.ledger().keys.revoke_key(key_id):
        fail(f"no active key {key_id}")
    output.console.print(f"revoked {key_id}", highlight=False)


@keys.command("adopt")
@click.argument("key_id")
@click.pass_obj
@guarded
def keys_adopt(obj: LedgerContext, key_id: str) -> None:
    """Take on a key made before key rows carried a MAC (after an upgrade): it authenticates again."""
    if not obj.ledger().keys.adopt_key(key_id):
        fail(f"no key {key_id} without a MAC (`ledger keys list` shows which are not proven)")
    output.console.print(f"adopted {key_id}", highlight=False)


@click.command("access-log")
@click.argument("id_number")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def access_log(obj: LedgerContext, id_number: str, as_json: bool) -> None:
    """Who read the data of the person with ID number ID, when, through which endpoint, and why."""
    ledger = obj.ledger()
    ref = ledger.reads.ref_of(id_number, "person")
    rows = ledger.access.of_person(str(ref.id))
    if as_json:
        output.emit_json({"person": ref.masked, "person_ref": str(ref.id), "entries": rows})
    else:
        output.console.print(output.rows_table(f"Reads of {ref.masked}'s data", rows, empty="(nobody read it)"))


@click.command("bench-http")
@click.option("--clients", default=64, show_default=True, type=click.IntRange(1, 1024))
@click.option(
    "--seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(1, 600),
    help="How long each mode is driven, in all.",
)
@click.option("--persons", default=2000, show_default=True, type=click.IntRange(10, 1_000_000))
@click.option(
    "--rounds",
    default=5,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Each mode's seconds are split into this many rounds, alternating with the other mode.",
)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 32),
    help="`ledger serve` processes per mode, all on the one database (the clients spread over them; "
    "the first keeps the views, the others run --no-follow-views).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def bench_http(
    obj: LedgerContext, clients: int, seconds: float, persons: int, rounds: int, processes: int, as_json: bool
) -> None:
    """Start `ledger serve` on the --db PostgreSQL store and drive it over real HTTP from another
    process, with and without group commit; print requests/s and latency of both, and the ratio."""
    result = run_bench_http(
        obj.settings(),
        clients=clients,
        seconds=seconds,
        persons=persons,
        rounds=rounds,
        processes=processes,
        progress=lambda text: output.err_console.print(text, highlight=False),
    )
    if as_json:
        output.emit_json(result)
    else:
        output.console.print(
            output.key_value_table("HTTP benchmark", {k: v for k, v in result.items() if not isinstance(v, dict)})
        )
        for mode in ("group_commit", "one_transaction"):
            output.console.print(output.key_value_table(mode, result[mode]))
