"""Commands that read or maintain the views (read models): `project [--follow]`, `quota`,
`rebuild`, `checksum`, `reevaluate`, and the person queries `balance`, `bindings`,
`authorizations`, which answer from the views after catching them up.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from domain.errors import InvalidInputError
from infra.cli import output
from infra.cli.context import LedgerContext, guarded
from infra.readmodels import view_reads
from infra.readmodels.runner import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    POLL_INTERVAL_DEFAULT_S,
    REBUILD_PAGE_SIZE_DEFAULT,
    ViewRunner,
)
from infra.whatif.reevaluate import RECORDED, Reevaluator, resolve_rules

PAGE_SIZE_OPTION = click.IntRange(1, PAGE_SIZE_MAX)


class EventsPerSecondColumn(ProgressColumn):
    def render(self, task: Any) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.0f} events/s", style="progress.data.speed")


def progress_reporter(runner: ViewRunner, title: str) -> tuple[Any, Callable[[int, int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise (logs, pipes)."""
    console = output.err_console
    if not console.is_terminal:
        return None, None
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        EventsPerSecondColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = bar.add_task(title, total=max(runner.head(), 1))

    def report(done: int, last_id: int) -> None:
        total = bar.tasks[0].total or 1
        bar.update(task, completed=done, total=max(total, done))

    return bar, report


def _runner(obj: LedgerContext, names: tuple[str, ...] = (), page_size: int | None = PAGE_SIZE_DEFAULT) -> ViewRunner:
    return ViewRunner(obj.ledger().app, names=names, page_size=page_size)


def _parse_day(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{field}: must be a date YYYY-MM-DD, got {text!r}", field=field) from None


@click.command()
@click.option("--follow", is_flag=True, help="Keep the views current as new events arrive (Ctrl-C stops).")
@click.option(
    "--interval",
    type=click.FloatRange(0.05, 60.0),
    default=POLL_INTERVAL_DEFAULT_S,
    show_default=True,
    help="Seconds between polls with --follow.",
)
@click.option("--page-size", type=PAGE_SIZE_OPTION, default=PAGE_SIZE_DEFAULT, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def project(obj: LedgerContext, follow: bool, interval: float, page_size: int, as_json: bool) -> None:
    """Catch every view up with the recorded events and exit (or keep following)."""
    runner = _runner(obj, page_size=page_size)
    bar, report = progress_reporter(runner, "projecting")
    if bar:
        with bar:
            applied = runner.catch_up(report)
    else:
        applied = runner.catch_up()
    positions = runner.positions()
    result = {"views": {name: {"applied": applied[name], "position": positions[name]} for name in applied}}
    if as_json:
        output.emit_json(result)
    else:
        rows = [{"view": n, **v} for n, v in result["views"].items()]
        output.console.print(output.rows_table("Views caught up", rows))
    if follow:
        stop = threading.Event()
        on_round = (
            (lambda a: output.emit_json({"applied": a}))
            if as_json
            else (
                lambda a: output.err_console.print(f"applied {sum(a.values())} view event(s) at {time.strftime('%X')}")
            )
        )
        try:
            runner.follow(interval, stop, on_round)
        except KeyboardInterrupt:
            stop.set()


@click.command()
@click.argument("id_number")
@click.option("--month", required=True, help="Natural month in UTC+8, YYYY-MM.")
@click.option("--rules", default=None, help="Judge remaining quota under this rule variant or version.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def quota(obj: LedgerContext, id_number: str, month: str, rules: str | None, as_json: bool) -> None:
    """Monthly binding quota of a person: counts, by channel, and what remains."""
    ledger = obj.ledger_for(id_number)
    ledger.views.catch_up()
    data = ledger.reads.quota(ledger.reads.by_id_number(id_number), month, rules)
    if as_json:
        output.emit_json(data)
        return
    output.console.print(
        output.key_value_table(
            f"Quota of {data['person']} in {month} ({data['rule_version']})",
            {k: v for k, v in data.items() if k not in ("person",)},
        )
    )
    output.console.print(
        output.rows_table(
            "Remaining (empty = no limit)",
            [{"limit": k, "remaining": "-" if v is None else v} for k, v in data["remaining"].items()],
        )
    )
    output.console.print(output.rows_table("By channel", [{"channel": c, **v} for c, v in data["by_channel"].items()]))
    for title, key in (("Unbinds by reason", "unbinds"), ("Rejected attempts by code", "rejected")):
        output.console.print(output.rows_table(title, [{"": k, "count": v} for k, v in data[key].items()]))


@click.command()
@click.argument("names", nargs=-1)
@click.option(
    "--page-size",
    type=PAGE_SIZE_OPTION,
    default=None,
    help=f"Events per transaction (default {REBUILD_PAGE_SIZE_DEFAULT:,} for a rebuild).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def rebuild(obj: LedgerContext, names: tuple[str, ...], page_size: int, as_json: bool) -> None:
    """Rebuild views (all, or NAME...) from the first event into new tables, then switch."""
    runner = _runner(obj, names, page_size)
    bar, report = progress_reporter(runner, "rebuilding " + ", ".join(p.name for p in runner.projections))
    if bar:
        with bar:
            summaries = runner.rebuild(report)
    else:
        summaries = runner.rebuild()
    _print_summaries(summaries, as_json, "Rebuilt views")


@click.command()
@click.argument("names", nargs=-1)
@click.option("--no-catch-up", is_flag=True, help="Digest the views as they stand, without catching up first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def checksum(obj: LedgerContext, names: tuple[str, ...], no_catch_up: bool, as_json: bool) -> None:
    """Row count, checksum and events processed of the live views (all, or NAME...)."""
    runner = _runner(obj, names)
    if not no_catch_up:
        runner.catch_up()
    _print_summaries(runner.summaries(), as_json, "Live views")


@click.command()
@click.option("--rules", "rules_name", required=True, help="A rule variant, family, version, or a rule-set file.")
@click.option("--from", "date_from", default=None, help="First local date (YYYY-MM-DD) of decisions to re-decide.")
@click.option("--to", "date_to", default=None, help="Last local date (YYYY-MM-DD), inclusive.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@guarded
def reevaluate(obj: LedgerContext, rules_name: str, date_from: str | None, date_to: str | None, as_json: bool) -> None:
    """Re-decide every recorded decision under other rules; list what would change. Writes nothing."""
    name, catalogue = resolve_rules(rules_name, obj.rules_dir)
    reevaluator = Reevaluator(
        obj.read_ledger().app, name, catalogue, _parse_day(date_from, "from"), _parse_day(date_to, "to")
    )
    report = reevaluator.run()
    if as_json:
        output.emit_json(report.to_dict())
    else:
        output.console.print(
            f"{report.decisions} decision(s) re-decided under {report.rules}; "
            f"{len(report.changed)} would come out differently."
        )
        output.console.print(
            output.rows_table(
                "Changed decisions by month and rule", report.summary_rows(), empty="(no decision would change)"
            )
        )
        for item in report.rules_changed_list():
            output.console.print(
                f"RULES_CHANGED: rule set {item['rule_version']} now has content digest "
                f"{item['current_digest']}; {item['decisions']} decision(s) were made under "
                f"{item['recorded_digest']}",
                highlight=False,
                soft_wrap=True,
            )
        if report.rules == RECORDED and report.digests_not_recorded:
            output.console.print(
                f"{report.digests_not_recorded} decision(s) recorded no rule digest (older events): "
                "their rule content was not compared",
                highlight=False,
            )
    if report.rules == RECORDED and (report.rules_changed or report.changed):
        sys.exit(1)  # the recorded history does not replay under the rules it names: an audit finding


def _print_summaries(summaries: dict[str, dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        output.emit_json({"views": summaries})
    else:
        output.console.print(output.rows_table(title, [{"view": n, **s} for n, s in summaries.items()]))


def _person_view_command(
    name: str, view: Callable[..., dict], title: str, render: Callable[[dict], list]
) -> click.Command:
    @click.command(
        name=name,
        help=f"Show {title} of the person with ID number ID (masked in output), from the views after catching them up.",
    )
    @click.argument("id_number")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.option(
        "--detail",
        is_flag=True,
        hidden=name != "balance",
        help="Add every balance counter and the mutual-aid flows per month.",
    )
    @click.pass_obj
    @guarded
    def command(obj: LedgerContext, id_number: str, as_json: bool, detail: bool) -> None:
        ledger = obj.ledger_for(id_number)
        ledger.views.catch_up()
        reader = view_reads.balance_detail if (detail and name == "balance") else view
        person = ledger.reads.by_id_number(id_number)
        data = ledger.reads.from_views(reader, person.id, person.masked)
        if as_json:
            output.emit_json(data)
        else:
            for table in render(data):
                output.console.print(table)

    return command


balance = _person_view_command(
    "balance",
    view_reads.balance_view,
    "the personal-account balance",
    lambda d: [
        output.key_value_table(f"Balance of {d['person']}", d),
        *([output.rows_table("Mutual-aid flows", d["flows"])] if "flows" in d else []),
    ],
)
bindings = _person_view_command(
    "bindings",
    view_reads.bindings_view,
    "the active family-account bindings",
    lambda d: [
        output.rows_table(f"Members bound by {d['person']}", d["members"]),
        output.rows_table(f"Binders of {d['person']}", d["binders"]),
    ],
)
authorizations = _person_view_command(
    "authorizations",
    view_reads.authorizations_view,
    "the active mutual-aid authorizations",
    lambda d: [
        output.rows_table(f"Authorizers of {d['person']} (may spend their balance)", d["authorizers"]),
        output.rows_table(f"Beneficiaries of {d['person']}", d["beneficiaries"]),
    ],
)
