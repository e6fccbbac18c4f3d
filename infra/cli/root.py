"""The `ledger` command line.

`ledger [--db PATH_OR_URL] COMMAND`; the database also comes from LEDGER_DB and defaults to
./ledger.db (SQLite). Operating errors print one clear line and exit 2; they never show a
traceback. Later features register their commands from their own modules (see bottom).
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import click

from eventsourcing.persistence import PersistenceError

from domain.errors import LedgerError
from domain.rules import CatalogueError
from infra.cli import output
from infra.readmodels import queries
from infra.eventstore.application import one_line
from infra.config import ConfigError, load_settings, warn_development_key


class LedgerContext:
    def __init__(self, db: str | None, rules_dir: str | None):
        self.db = db
        self.rules_dir = rules_dir
        self._app = None

    def settings(self):
        return load_settings(self.db, self.rules_dir)

    def app(self, rules_override: str | None = None):
        from infra.eventstore.application import LedgerApp

        if self._app is None or rules_override:
            settings = self.settings()
            warn_development_key(settings)
            self._app = LedgerApp(settings, rules_override=rules_override)
        return self._app


def fail(message: str, code: int = 2) -> None:
    output.err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """Turn operating errors into one line on stderr and exit code 2."""
    import functools

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except LedgerError as error:
            fail(f"{error.code}: {error.message}")
        except (ConfigError, CatalogueError) as error:
            fail(str(error))
        except PersistenceError as error:  # a database failing mid-command
            fail(f"STORAGE_ERROR: database: {one_line(error)}")

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="LEDGER_DB", default=None, help="SQLite file or postgresql:// URL (default ./ledger.db).")
@click.option("--rules-dir", envvar="LEDGER_RULES_DIR", default=None, help="A directory of rule-set files to use instead of the shipped catalogue.")
@click.pass_context
def main(ctx: click.Context, db: str | None, rules_dir: str | None) -> None:
    """Family-account ledger: an event-sourced record of 亲情账户 bindings and 家庭共济 mutual aid."""
    ctx.obj = LedgerContext(db, rules_dir)


@main.command()
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--rules", default=None, help="Decide every command under this rule variant (what-if), e.g. seed-000.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000),
              help="Group commit: decide up to this many commands in memory, store them in one transaction "
                   "(1 = one transaction per command). Results are the same either way.")
@click.pass_obj
@guarded
def apply(obj: LedgerContext, file: Any, rules: str | None, batch_size: int) -> None:
    """Apply one JSON command per line from FILE (or - for stdin); print one JSON result per line."""
    from infra.groupcommit.batch import apply_results

    app = obj.app(rules_override=rules)
    failures = 0
    for result in apply_results(app, file, batch_size=batch_size):
        failures += not result["ok"]
        output.emit_json(result)
        sys.stdout.flush()
    if failures:
        output.err_console.print(f"{failures} line(s) refused; see their results")


def _person_command(name: str, view: Callable[[Any], dict], title: str, render: Callable[[dict], list]) -> None:
    @main.command(name=name, help=f"Show {title} of the person with ID number ID (masked in output).")
    @click.argument("id_number")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    @guarded
    def command(obj: LedgerContext, id_number: str, as_json: bool) -> None:
        data = view(obj.app().get_person(id_number))
        if as_json:
            output.emit_json(data)
        else:
            for table in render(data):
                output.console.print(table)


_person_command("person", queries.person_view, "the current state",
                lambda d: [output.key_value_table(f"Person {d['person']}", d)])


@main.command()
@click.option("--db", "demo_db", default="./ledger-demo.db", show_default=True,
              help="SQLite file for the demo; it is recreated on every run.")
@guarded
def demo(demo_db: str) -> None:
    """Run a realistic family scenario on the embedded default and narrate it."""
    from infra.tools.demo import run_demo

    run_demo(demo_db)


@main.command()
@click.pass_obj
@guarded
def rules(obj: LedgerContext) -> None:
    """List the rule sets in the catalogue."""
    from infra.eventstore.catalogue import load_catalogue

    catalogue = load_catalogue(obj.rules_dir)
    rows = [{"version": r.version, "effective_from": r.effective_from.isoformat(),
             "regions": ",".join(p or "*" for p in r.regions), "description": r.description}
            for versions in catalogue.bases.values() for r in versions]
    rows += [{"version": v.name + "+(base in force)", "effective_from": v.effective_from.isoformat(),
              "regions": ",".join(v.regions) or "(what-if only)", "description": v.description}
             for v in catalogue.variants.values()]
    output.console.print(output.rows_table("Rule catalogue", rows))


def register_extensions() -> None:
    """Commands from later features live in their own modules and attach here."""
    import importlib

    for module in ("infra.cli.projections", "infra.cli.audit", "infra.cli.performance"):
        try:
            importlib.import_module(module).register(main)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


register_extensions()

if __name__ == "__main__":
    main()
