"""The federation's own commands (`ledger --federation F ...`): `relay` delivers the
cross-province quota steps, `reconcile` checks every transfer and the money across ledgers."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click

from infra.cli import output
from infra.cli.context import LedgerContext, guarded
from infra.federation.reconcile import reconcile as reconcile_ledgers
from infra.federation.relay import PAGE_SIZE_DEFAULT, Relay, RelayRound
from infra.readmodels.runner import PAGE_SIZE_MAX, POLL_INTERVAL_DEFAULT_S


@click.command()
@click.option("--follow", is_flag=True, help="Keep delivering as steps are recorded, until interrupted.")
@click.option("--interval", default=POLL_INTERVAL_DEFAULT_S, show_default=True, help="Seconds between rounds.")
@click.option(
    "--page-size",
    default=PAGE_SIZE_DEFAULT,
    show_default=True,
    type=click.IntRange(1, PAGE_SIZE_MAX),
    help="Log rows read per page; a page's steps for one ledger commit in one transaction.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def relay(obj: LedgerContext, follow: bool, interval: float, page_size: int, as_json: bool) -> None:
    """Deliver every cross-ledger step of cross-province quotas, exactly once (kill it at any
    moment and start it again). Without --follow: everything pending, then exit (1 if a ledger
    could not be reached or a step was refused)."""
    ledgers = obj.ledgers()
    relayer = Relay(ledgers, page_size=page_size)
    if not follow:
        done = relayer.run_once()
        _report(done, as_json)
        sys.exit(1 if done.unreachable or done.refused else 0)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        relayer.follow(interval, stop, on_round=lambda done: _report(done, as_json))
    except KeyboardInterrupt:
        stop.set()


def _report(done: RelayRound, as_json: bool) -> None:
    if as_json:
        output.emit_json(done.as_dict())
    else:
        output.console.print(output.key_value_table("Relay", done.as_dict()))
    sys.stdout.flush()


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the federation's reconciliation).")
@click.pass_context
def reconcile(ctx: click.Context, as_json: bool) -> None:
    """Reconciliations. Alone, with --federation: check every cross-province transfer (earmarked =
    received = drawn + returned + outstanding on both sides) and the federation's money identity;
    exit 1 naming each mismatch. `reconcile national`: the national platform's statements."""
    if ctx.invoked_subcommand is None:
        _reconcile_federation(ctx.obj, as_json)


@guarded
def _reconcile_federation(obj: LedgerContext, as_json: bool) -> None:
    result: dict[str, Any] = reconcile_ledgers(obj.ledgers())
    if as_json:
        output.emit_json(result)
    else:
        summary = {k: v for k, v in result.items() if k != "mismatches"}
        output.console.print(output.key_value_table("Federation reconciliation", summary))
        for mismatch in result["mismatches"]:
            output.console.print(f"mismatch: {mismatch}", highlight=False)
    if not result["ok"]:
        sys.exit(1)
