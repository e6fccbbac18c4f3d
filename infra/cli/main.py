"""The `ledger` click group and the one list of its commands.

`ledger [--db PATH_OR_URL] COMMAND`; the database also comes from LEDGER_DB and defaults to
./ledger.db (SQLite). Operating errors print one clear line and exit 2; they never show a
traceback. Each command lives in its family's module; this module only attaches them.
"""

from __future__ import annotations

import click

from infra.cli import audit, federation, ledger, national, performance, projections, service
from infra.cli.context import LedgerContext


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="LEDGER_DB", default=None, help="SQLite file or postgresql:// URL (default ./ledger.db).")
@click.option(
    "--rules-dir",
    envvar="LEDGER_RULES_DIR",
    default=None,
    help="A directory of rule-set files to use instead of the shipped catalogue.",
)
@click.option(
    "--read-db",
    envvar="LEDGER_READ_DB",
    default=None,
    help="postgresql:// URL of a replica for the commands that only read the event store "
    "(history, audit, verify, report, reevaluate); they report its lag.",
)
@click.option(
    "--federation",
    envvar="LEDGER_FEDERATION",
    default=None,
    help="A federation file (TOML, [ledgers] province prefix -> --db value): one ledger per province; "
    "apply and the person reads go to the person's home ledger (not together with --db).",
)
@click.pass_context
def main(
    ctx: click.Context, db: str | None, rules_dir: str | None, read_db: str | None, federation: str | None
) -> None:
    """Family-account ledger: an event-sourced record of 亲情账户 bindings and 家庭共济 mutual aid."""
    if federation and db:
        raise click.UsageError("--federation and --db (or LEDGER_FEDERATION and LEDGER_DB) exclude each other")
    ctx.obj = LedgerContext(db, rules_dir, read_db, federation)


COMMANDS = (
    ledger.apply,
    ledger.person,
    ledger.demo,
    ledger.rules,
    projections.project,
    projections.quota,
    projections.rebuild,
    projections.checksum,
    projections.reevaluate,
    projections.balance,
    projections.bindings,
    projections.authorizations,
    audit.audit,
    audit.history,
    audit.seal,
    audit.verify,
    audit.verify_bundle,
    audit.report,
    audit.subject_report,
    audit.seal_key,
    national.import_records,
    national.export_records,
    federation.reconcile,  # `reconcile` (the federation's) and `reconcile national`
    performance.simulate,
    performance.bench,
    service.serve,
    service.keys,
    service.access_log,
    service.bench_http,
    federation.relay,
)
federation.reconcile.add_command(national.reconcile_national)
for _command in COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":
    main()
