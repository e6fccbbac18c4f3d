"""The ledger's own commands: `apply` (JSON command lines, group commit), `person` (state read
from the aggregate), `demo` and `rules` (the rule catalogue)."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.panel import Panel

from infra.cli import output
from infra.cli.context import LedgerContext, guarded
from infra.collector import survivors_frozen
from infra.commands.parsing import read_lines
from infra.eventstore.rule_files import load_catalogue
from infra.federation.routing import route_stream
from infra.tools.demo import run_demo
from infra.writing.write_path import BATCH_SIZE_DEFAULT, BATCH_SIZE_MAX


@click.command()
@click.argument("file", type=click.File("rb"))
@click.option(
    "--rules",
    default=None,
    help="What-if dry run: decide every command under this rule variant (e.g. seed-000), print the "
    'answers marked "dry_run": true, and store nothing.',
)
@click.option(
    "--batch-size",
    default=BATCH_SIZE_DEFAULT,
    show_default=True,
    type=click.IntRange(1, BATCH_SIZE_MAX),
    help="Group commit: decide up to this many commands in memory, store them in one transaction "
    "(1 = one transaction per command). Results are the same either way.",
)
@click.pass_obj
@guarded
def apply(obj: LedgerContext, file: Any, rules: str | None, batch_size: int) -> None:
    """Apply one JSON command per line from FILE (or - for stdin); print one JSON result per line.
    With --federation each line goes to the home ledger of the person it is about."""
    if obj.federation is not None and not rules:
        results = route_stream(obj.ledgers(), read_lines(file), batch_size=batch_size)
    else:
        commands = obj.ledger(rules_override=rules).commands
        results = (
            commands.dry_run(read_lines(file)) if rules else commands.stream(read_lines(file), batch_size=batch_size)
        )
    failures = 0
    with survivors_frozen():  # a long-running writer (infra.collector)
        for result in results:
            failures += not result["ok"]
            output.emit_json(result)
            sys.stdout.flush()
    if failures:
        output.err_console.print(f"{failures} line(s) refused; see their results")


@click.command(help="Show the current state of the person with ID number ID (masked in output).")
@click.argument("id_number")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def person(obj: LedgerContext, id_number: str, as_json: bool) -> None:
    reads = obj.ledger_for(id_number).reads
    data = reads.state(reads.by_id_number(id_number))
    if as_json:
        output.emit_json(data)
    else:
        output.console.print(output.key_value_table(f"Person {data['person']}", data))


@click.command()
@click.option(
    "--db",
    "demo_db",
    default="./ledger-demo.db",
    show_default=True,
    help="SQLite file for the demo; it is recreated on every run.",
)
@guarded
def demo(demo_db: str) -> None:
    """Run a realistic family scenario on the embedded default and narrate it."""
    console = output.console
    for kind, what in run_demo(demo_db):
        if kind == "title":
            console.print(Panel.fit(what, style="bold"))
        elif kind == "heading":
            console.print(f"\n[bold underline]{what}[/]")
        elif kind == "step":
            console.print("  " + what, highlight=False)
        elif kind == "table":
            console.print(output.rows_table(*what))
        else:
            console.print(what)


@click.command()
@click.pass_obj
@guarded
def rules(obj: LedgerContext) -> None:
    """List the rule sets in the catalogue."""
    catalogue = load_catalogue(obj.rules_dir)
    rows = [
        {
            "version": r.version,
            "effective_from": r.effective_from.isoformat(),
            "regions": ",".join(p or "*" for p in r.regions),
            "description": r.description,
        }
        for versions in catalogue.bases.values()
        for r in versions
    ]
    rows += [
        {
            "version": v.name + "+(base in force)",
            "effective_from": v.effective_from.isoformat(),
            "regions": ",".join(v.regions) or "(what-if only)",
            "description": v.description,
        }
        for v in catalogue.variants.values()
    ]
    output.console.print(output.rows_table("Rule catalogue", rows))
