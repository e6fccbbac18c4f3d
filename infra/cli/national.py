"""The national platform's records (docs/national.md), through the core's `Ledger.national`:

    ledger import national FILE|-                       one JSON answer per line, as `apply` prints
    ledger export national --from DATE --to DATE [--institution CODE]      JSON lines of setlinfo
    ledger reconcile national --statement FILE [--detail FILE] [--format json|csv|html] [--out PATH]
                                                        exit 1 when not balanced

As `apply`: refused lines are answered, not fatal (exit 0); operating errors exit 2.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import IO

import click

from domain.errors import InvalidInputError
from infra.cli import output
from infra.cli.context import LedgerContext, guarded
from infra.commands.parsing import read_lines
from infra.national.reconcile import reconciliation_csv
from infra.pages.national import render_reconciliation

CONSOLE_URL_DEFAULT = "http://127.0.0.1:8080"  # where `ledger serve` listens by default


@click.group("import")
def import_records() -> None:
    """Import records of the systems around the ledger."""


@import_records.command("national")
@click.argument("file", type=click.File("rb"))
@click.pass_obj
@guarded
def import_national(obj: LedgerContext, file: IO[bytes]) -> None:
    """Import the national platform's settlements (2207, with the platform's `output`) and
    reversals (2208) from FILE (or - for stdin): one JSON answer per line, each with the
    `discrepancies` between the record and what the ledger decided (the ledger's decision stands)."""
    failures = 0
    for result in obj.ledger().national.import_lines(read_lines(file)):
        failures += not result["ok"]
        output.emit_json(result)
        sys.stdout.flush()
    if failures:
        output.err_console.print(f"{failures} line(s) refused; see their results")


@click.group("export")
def export_records() -> None:
    """Export the ledger's records in the shapes of the systems around it."""


@export_records.command("national")
@click.option("--from", "date_from", required=True, help="First settlement date, YYYY-MM-DD (UTC+8).")
@click.option("--to", "date_to", required=True, help="Last settlement date, YYYY-MM-DD (UTC+8), included.")
@click.option("--institution", default=None, help="Only this institution's settlements (fixmedins_code).")
@click.pass_obj
@guarded
def export_national(obj: LedgerContext, date_from: str, date_to: str, institution: str | None) -> None:
    """The ledger's settlements of the period as JSON lines of 2207 setlinfo objects (amounts as
    two-decimal strings, certno masked) with refd_setl_flag: an institution's 3202 detail."""
    national = obj.read_ledger().national
    for row in national.export(parse_day(date_from, "from"), parse_day(date_to, "to"), institution):
        output.emit_json(row)


@click.group("reconcile")
def reconcile_records() -> None:
    """Reconcile the ledger with the records of the systems around it."""


@reconcile_records.command("national")
@click.option("--statement", type=click.File("rb"), required=True, help="JSON lines of 3201 statement envelopes.")
@click.option("--detail", type=click.File("rb"), default=None, help="JSON lines of 2207 setlinfo (the 3202 detail).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "html"]), default="json", show_default=True)
@click.option("--out", "out", default=None, help="Write to PATH instead of standard output.")
@click.option(
    "--console-url",
    default=CONSOLE_URL_DEFAULT,
    show_default=True,
    help="html: where the console runs; each difference links to its deduction's replay there.",
)
@click.pass_obj
@guarded
def reconcile_national(
    obj: LedgerContext, statement: IO[bytes], detail: IO[bytes] | None, fmt: str, out: str | None, console_url: str
) -> None:
    """Statement totals (3201) and, with --detail, the institution's settlements one by one
    (3202) against the ledger. Exit status 1 when not balanced."""
    national = obj.read_ledger().national
    found = national.reconcile(read_lines(statement), read_lines(detail) if detail is not None else None)
    result = found.result
    if fmt == "json":
        text = json.dumps(output.annotate(result), ensure_ascii=False, indent=2) + "\n"
    elif fmt == "csv":
        text = reconciliation_csv(result)
    else:
        text = render_reconciliation(result, found.replayable, national.attestation(), console_url)
    if out:
        Path(out).write_text(text, encoding="utf-8")
        output.err_console.print(f"wrote {out}", highlight=False)
    else:
        sys.stdout.write(text)
    if not result["balanced"]:
        sys.exit(1)  # like verify: a script can act on it without parsing the output


def parse_day(text: str, field: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{field}: not a date written YYYY-MM-DD", field=field) from None
